"""What the memory work (the job worker, the MEMORY.md sync) uses of a ``Memory``:
its configuration, its project and the stores underneath. ``Memory`` in
``service.py`` is the one implementation; this protocol sits below it so the
modules ``service`` calls need not import ``service`` back."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Protocol

from mnemocode.config.settings import MemoryConfig
from mnemocode.memory.entries import EntryStore
from mnemocode.memory.extraction import MemoryOps
from mnemocode.memory.jobs import JobQueue
from mnemocode.memory.projects import Project
from mnemocode.memory.sessions import SessionStore
from mnemocode.memory.summaries import SummaryStore
from mnemocode.memory.traits import TraitStore

if TYPE_CHECKING:  # the optional embeddings extra
    from mnemocode.memory.vectors import VectorIndex


class MemoryStores(Protocol):
    @property
    def config(self) -> MemoryConfig: ...
    @property
    def project(self) -> Project: ...
    @property
    def project_db(self) -> sqlite3.Connection: ...
    @property
    def entries(self) -> EntryStore: ...
    @property
    def traits(self) -> TraitStore: ...
    @property
    def sessions(self) -> SessionStore: ...
    @property
    def summaries(self) -> SummaryStore: ...
    @property
    def jobs(self) -> JobQueue: ...
    @property
    def vectors(self) -> VectorIndex | None: ...

    def apply(self, ops: MemoryOps, *, session_id: str | None = None) -> object:
        """Apply the judge's operations; the result says what changed."""
        ...
