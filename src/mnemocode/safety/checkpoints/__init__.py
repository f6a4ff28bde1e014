"""Checkpoints and undo: a snapshot of the work tree per turn (a shadow git
repository outside the project), backups of files outside it, and undo, rewind
and rollback of one file. See ``store.py`` for the behaviour."""

from mnemocode.safety.checkpoints.model import (
    Checkpoint,
    CheckpointConflict,
    CheckpointError,
    FileChange,
    FileVersion,
)
from mnemocode.safety.checkpoints.store import CheckpointStore

__all__ = [
    "Checkpoint",
    "CheckpointConflict",
    "CheckpointError",
    "CheckpointStore",
    "FileChange",
    "FileVersion",
]
