"""Memory work off the user's path: the queued jobs run as a task of the front
end's event loop, so the prompt, the user's turns and leaving never wait for a
(possibly slow, local) model to summarise. When the task ends it reports once,
one line (``JobsReport.line``); stopped, its leased job goes back to the queue
untried, for the next worker (a detached ``mnemo memory process``, the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from mnemocode.core.errors import MnemoError
from mnemocode.core.protocols import ChatModel
from mnemocode.memory.worker import JobsReport, run_jobs

if TYPE_CHECKING:
    from mnemocode.memory.service import Memory


class BackgroundJobs:
    def __init__(
        self,
        memory: Memory,
        model: Callable[[], ChatModel],
        on_finished: Callable[[JobsReport], None],
    ) -> None:
        self.memory, self.model, self.on_finished = memory, model, on_finished
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> int:
        """Start the worker when work is queued (a running one takes new jobs as
        it goes); returns how many jobs are queued."""
        pending = self.memory.pending_jobs()
        if pending and not self.running:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called outside the event loop: left queued
                return pending
            self._task = loop.create_task(self._run(), name="mnemo-memory")
        return pending

    async def _run(self) -> None:
        try:
            report = await run_jobs(self.memory, self.model(), lambda _line: None)
        except MnemoError as exc:  # the database, not a job: reported, never raised
            report = JobsReport(problem=exc.one_line())
        self.on_finished(report)

    async def stop(self) -> None:
        """Cancel the worker and wait for it: its job is released, not failed."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
