"""The front of the generation queue, in the process that accepts generations: a flow waits
here for the worker of its process to make its generation (with the flow's own work and
progress), or, when this process runs no worker, is told its place and leaves the result to
the worker that takes it up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import GenerationCancelled, HandedToWorker
from bot.services.generation.model import WatchesGeneration
from bot.services.jobs.store import queue_position
from bot.services.jobs.waiters import Waiter, Waiters
from db.engine import Database

R = TypeVar("R")

CANCEL_CHANNEL = "charbot_generation_cancel"
"""Workers listen here for generations their members cancelled (the payload: its id)."""


async def announce_cancel(session: AsyncSession, generation_id: str) -> None:
    """Tell every worker, when the transaction commits, that the generation was cancelled."""
    await session.execute(
        text("SELECT pg_notify(:channel, :id)"), {"channel": CANCEL_CHANNEL, "id": generation_id}
    )


class JobQueue:
    """Where flows wait for the generations they accepted."""

    def __init__(
        self,
        db: Database,
        *,
        process_id: str,
        has_worker: bool,
        worker_busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.db = db
        self.process_id = process_id
        """Recorded with each job this process accepts (its worker waits for the flow)."""
        self.has_worker = has_worker
        self.worker_busy = worker_busy
        self.waiters = Waiters()
        self.run_here: Callable[[str], None] | None = None
        """Runs a job this process's worker took at acceptance (set by that worker)."""
        self.worker_name = ""
        """That worker's name, recorded on the jobs it takes at acceptance."""

    async def _show_position(
        self,
        generation_id: str,
        progress: Callable[[str, int | None], Awaitable[None]],
        *,
        always: bool = False,
    ) -> None:
        """The place in line; with ``always``, "starting" when a worker has it already (the
        member sees the Cancel button with either)."""
        with contextlib.suppress(Exception):  # a place in line is nice to have, never needed
            position = await queue_position(self.db, generation_id)
            if position:
                await progress("queued", position)
            elif always:
                await progress("starting", None)

    async def wait(
        self,
        job: Any,
        progress: Callable[[str, int | None], Awaitable[None]],
        work: Callable[[], Awaitable[R]],
        turn: AbstractAsyncContextManager[None] | None,
    ) -> R:
        """The outcome of the flow's generation, made by this process's worker.

        Raises: HandedToWorker when no worker runs here (another posts the result); what the
        generation raised.
        """
        generation_id = job.generation_id
        if isinstance(progress, WatchesGeneration):
            progress.generation_started(generation_id)
        if not self.has_worker:
            await self._show_position(generation_id, progress, always=True)
            flush = getattr(progress, "flush", None)
            if flush is not None:  # the place in line stays shown until the worker posts
                await flush()
            raise HandedToWorker
        waiter = Waiter(job, progress, work, turn)
        self.waiters.add(generation_id, waiter)
        if self.run_here is not None:
            self.run_here(generation_id)
        try:
            if self.worker_busy():
                await self._show_position(generation_id, progress)
            told = False
            while True:
                try:
                    outcome: R = await asyncio.wait_for(asyncio.shield(waiter.future), 1.0)
                except TimeoutError:  # still waiting: say so if the database is away
                    if self.db.outage.down and not told:
                        told = True
                        await progress("database", None)
                    continue
                return outcome
        finally:
            self.waiters.remove(generation_id, waiter)

    def cancelled(self, generation_id: str) -> None:
        """The generation was cancelled before a worker took it up: its flow is told so."""
        waiter = self.waiters.get(generation_id)
        if waiter is not None:
            waiter.fail(GenerationCancelled())
