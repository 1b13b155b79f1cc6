"""How every generation runs, whatever it makes: in a bounded slot, marked processing, its
provider calls rate-limited, timed and counted; on any failure (cancellation included) failed
and refunded as one step, with the objects it stored deleted; drained at shutdown. While the
database cannot be reached, its outcome waits in the process and is written when it answers
(:mod:`bot.services.generation.settle`).

A member may cancel a generation of theirs (:meth:`GenerationRunner.cancel`) until it starts
saving what it made: waiting for its turn or a slot, it leaves the queue; during a provider
call, the call is abandoned; in between, it stops at the next step. Either way it is failed
with the message ``cancelled`` and refunded once, and nothing is stored or posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from bot.errors import (
    DatabaseUnavailableError,
    DomainError,
    GenerationCancelled,
    GenerationReleased,
    GenerationSavedError,
)
from bot.providers.retry import waits_reported_to
from bot.services.generation.job import (
    CANCEL_WAIT_SECONDS,
    CANCELLED,
    DEFAULT_SETTLE_WITHIN,
    CancelResult,
    Job,
    R,
    T,
    log_finished,
    settle_when_done,
)
from bot.services.generation.model import GenerationMetrics, Progress, WatchesGeneration
from bot.services.generation.records import mark_processing
from bot.services.generation.settle import settle_failure, until_written
from bot.services.generation.slots import (
    ACCEPTED_ALL_WITHIN,
    DEFAULT_ACCEPTING_AT_ONCE,
    SAVING_SHOWN_AT_ONCE,
    GenerationSlots,
)
from bot.storage.base import Storage, delete_quietly
from db.engine import Database
from db.outage import is_unreachable

if TYPE_CHECKING:
    from bot.services.jobs.queue import JobQueue
    from bot.services.ratelimit import SharedRateLimit

__all__ = [
    "CANCELLED",
    "CANCEL_WAIT_SECONDS",
    "DEFAULT_SETTLE_WITHIN",
    "CancelResult",
    "GenerationRunner",
    "Job",
]

log = logging.getLogger(__name__)


class GenerationRunner:
    """Runs generations with a per-process concurrency limit; tracks them for a clean shutdown."""

    def __init__(
        self,
        db: Database,
        storage: Storage,
        *,
        slots: GenerationSlots,
        rate_limit: SharedRateLimit | None = None,
        metrics: GenerationMetrics | None = None,
        settle_within: float = DEFAULT_SETTLE_WITHIN,
        accepting_at_once: int = DEFAULT_ACCEPTING_AT_ONCE,
    ) -> None:
        self.db = db
        self.storage = storage
        self.slots = slots
        self.rate_limit = rate_limit
        self.metrics = metrics
        self.settle_within = settle_within
        self._running: set[asyncio.Task[Any]] = set()
        self._jobs: dict[str, Job] = {}
        self._closing = False
        self.queue: JobQueue | None = None
        """The queue generations are accepted into, for a worker; None: run in their caller."""
        self.taking_up: set[str] = set()
        """Generations this process's worker makes from their job (no flow waits for them)."""
        self._accepting = GenerationSlots(accepting_at_once)
        self._saving_shown = asyncio.Semaphore(SAVING_SHOWN_AT_ONCE)

    def accepting(self) -> AbstractAsyncContextManager[None]:
        """One of the few places generations are accepted in (see :func:`accepting_at_once`)."""
        return self._accepting.acquire()

    async def accepted_all(self) -> None:
        """Return once no generation waits to be accepted (see :data:`ACCEPTED_ALL_WITHIN`)."""
        await self._accepting.nobody_waits(ACCEPTED_ALL_WITHIN)

    def saving_shown(self) -> asyncio.Semaphore:
        """Saves of results their member sees already: see :data:`SAVING_SHOWN_AT_ONCE`."""
        return self._saving_shown

    # -- shutdown -------------------------------------------------------------------------

    def check_open(self) -> None:
        """Raises: DomainError ``error.shutting_down`` once draining has begun."""
        if self._closing:
            raise DomainError("error.shutting_down")

    @property
    def in_flight(self) -> int:
        """Generations running in this process."""
        return len(self._running)

    async def drain(self, grace: float, *, release: bool = False) -> None:
        """Stop taking new generations, let running ones finish for ``grace`` seconds, then
        cancel the rest (their failure path refunds them) or, with ``release``, give them back
        to the queue unfailed."""
        self._closing = True
        pending = set(self._running)
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=grace)
        released = {
            j.task for j in self._jobs.values() if release and self.release(j.generation_id)
        }
        for task in still - released:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=10)

    # -- one run ----------------------------------------------------------------------------

    async def run(
        self,
        job: Job,
        progress: Progress,
        work: Callable[[], Awaitable[R]],
        *,
        turn: AbstractAsyncContextManager[None] | None = None,
    ) -> R:
        """The accepted generation of ``job``, made by a worker (this process's, with this
        ``work`` and ``progress``; or another's, which posts it), or here when there is no
        queue (see :meth:`execute`).

        Raises: HandedToWorker (another process makes and posts it), GenerationReleased (this
        process stops first), and what :meth:`execute` raises.
        """
        if self.queue is None or job.generation_id in self.taking_up:
            return await self.execute(job, progress, work, turn=turn)
        outcome: R = await self.queue.wait(job, progress, work, turn)
        return outcome

    def release(self, generation_id: str) -> bool:
        """Stop a generation running here without failing it (the process stops): its job goes
        back to the queue. False when it does not run here."""
        job = self._jobs.get(generation_id)
        if job is None or job.phase in ("saving", "done"):
            return False
        job.released = True
        if job.task is not None:
            job.task.cancel()
        return True

    async def execute(
        self,
        job: Job,
        progress: Progress,
        work: Callable[[], Awaitable[R]],
        *,
        turn: AbstractAsyncContextManager[None] | None = None,
    ) -> R:
        """Run ``work`` (provider calls, then persist) for the pending generation of ``job``:
        after ``turn`` (the member's turn in a conversation, when given) and in a slot, after
        marking it processing. Any failure fails it (refunding its unit once), deletes what it
        stored and any half-made character, then re-raises; when that failure could only be
        written after a database outage, or not at all, it raises DatabaseUnavailableError
        instead, saying whether the unit came back.

        Raises: GenerationCancelled when the member cancelled it; whatever ``work`` raised.
        """
        started = time.perf_counter()
        inner = asyncio.ensure_future(self._run(job, progress, work, turn, started))
        job.task = inner
        self._running.add(inner)
        self._jobs[job.generation_id] = job
        if isinstance(progress, WatchesGeneration):
            progress.generation_started(job.generation_id)
        try:
            return await inner
        finally:
            self._running.discard(inner)
            if self._jobs.get(job.generation_id) is job:
                del self._jobs[job.generation_id]
            if inner.done():
                job.phase = "done"
                job.settled.set()
            else:  # the caller was cancelled: the run settles by itself
                inner.add_done_callback(settle_when_done(job))

    async def _run(
        self,
        job: Job,
        progress: Progress,
        work: Callable[[], Awaitable[R]],
        turn: AbstractAsyncContextManager[None] | None,
        started: float,
    ) -> R:
        try:
            async with contextlib.AsyncExitStack() as stack:
                job.phase = "queued"
                if turn is not None:
                    await stack.enter_async_context(turn)
                await stack.enter_async_context(
                    self.slots.acquire(lambda pos: progress("queued", pos))
                )
                job.phase = "working"
                self.checkpoint(job)
                with job.timed("db_processing"):
                    async with self.db.statement() as session:  # one statement
                        still_open = await mark_processing(session, job.generation_id)
                if not still_open:  # failed meanwhile: cancelled elsewhere, or swept
                    raise GenerationCancelled
                outcome = await work()
        except GenerationSavedError:  # completed after all: nothing to fail or delete
            job.phase = "done"
            self._finished(job, "completed", started)
            raise
        except BaseException as exc:
            job.phase = "done"
            if job.released and not job.cancel_requested:
                self._finished(job, "released", started)
                raise GenerationReleased from None
            cancelled = job.cancel_requested or isinstance(exc, GenerationCancelled)
            settled = await asyncio.shield(self._fail(job, exc, progress, cancelled=cancelled))
            if cancelled or isinstance(exc, asyncio.CancelledError):
                outcome_name = "cancelled"
            else:
                outcome_name = "failed"
            self._finished(job, outcome_name, started, error=type(exc).__name__)
            if isinstance(exc, Exception) and (settled is None or is_unreachable(exc)):
                if settled is None:  # the stale sweep will give the unit back
                    raise DatabaseUnavailableError("error.database_refund_pending") from exc
                raise DatabaseUnavailableError("error.database_refunded") from exc
            if cancelled and not isinstance(exc, GenerationCancelled):
                raise GenerationCancelled from None
            raise
        job.phase = "done"
        self._finished(job, "completed", started)
        outcome.timings = job.timings
        return outcome

    # -- cancelling ---------------------------------------------------------------------------

    def checkpoint(self, job: Job) -> None:
        """Raises: GenerationCancelled when the member cancelled the job."""
        if job.cancel_requested:
            raise GenerationCancelled

    def begin_saving(self, job: Job) -> None:
        """From here on the job saves what it made and can no longer be cancelled.

        Raises: GenerationCancelled when the member cancelled it before.
        """
        self.checkpoint(job)
        job.phase = "saving"

    async def cancel(
        self, generation_id: str, *, wait: float = CANCEL_WAIT_SECONDS
    ) -> CancelResult | None:
        """Cancel a generation running in this process; None when none runs here (or it is
        just ending: its row tells how). "saving" when it is already saving what it made (it
        will finish). On "cancelled" the generation has been failed and refunded when this
        returns (within ``wait``)."""
        job = self._jobs.get(generation_id)
        if job is None:
            return None
        if job.phase == "done":  # ending now: its row tells how
            await job.settled.wait()
            return None
        if job.phase == "saving":
            return "saving"
        job.cancel_requested = True
        if job.phase in ("queued", "provider") and job.task is not None:
            job.task.cancel()  # leave the queue, or abandon the provider call
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await job.settled.wait()
        return "cancelled"

    async def call_provider(
        self,
        job: Job,
        provider: str,
        stage: str,
        progress: Progress,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        """One provider call: wait for the shared budget (the member sees the queue position,
        then the stage again), then call, timed and counted; a cancel abandons the call.

        Raises: GenerationCancelled when the member cancelled the job.
        """
        self.checkpoint(job)
        if self.rate_limit is not None:
            queued = False

            async def on_position(position: int) -> None:
                nonlocal queued
                queued = True
                await progress("queued", position)

            with job.timed("rate_limit_wait"):
                waited = await self.rate_limit.acquire(on_position)
            if self.metrics is not None:
                self.metrics.rate_limited(waited)
            if queued:
                await progress(stage, None)
        self.checkpoint(job)
        start = time.perf_counter()
        ok = False
        busy = False

        async def on_wait(seconds: float) -> None:  # the provider is busy: waiting it out
            nonlocal busy
            busy = True
            await progress("busy", None)

        job.phase = "provider"
        try:
            with waits_reported_to(on_wait):
                result = await call()
            ok = True
        finally:
            job.phase = "working"
            elapsed = time.perf_counter() - start
            name = f"provider_{provider}"
            job.timings[name] = job.timings.get(name, 0.0) + elapsed
            if self.metrics is not None:
                self.metrics.provider_call(provider, elapsed, ok=ok)
        self.checkpoint(job)
        if busy:
            await progress(stage, None)
        return result

    async def write(self, progress: Progress, write: Callable[[], Awaitable[T]]) -> T:
        """A write of the generation's outcome (its persist transaction): while the database
        cannot be reached it is kept and tried again, the member told they wait for it, for at
        most the stale age (see :func:`~bot.services.generation.settle.until_written`)."""
        return await until_written(
            self.db.outage,
            write,
            within=self.settle_within,
            waiting=lambda: progress("database", None),
        )

    def _finished(self, job: Job, outcome: str, started: float, error: str | None = None) -> None:
        """One structured line per generation, and its counter."""
        if self.metrics is not None:
            self.metrics.generation_finished(job.kind, outcome)
        log_finished(job, outcome, started, error)

    async def _fail(
        self, job: Job, exc: BaseException, progress: Progress, *, cancelled: bool = False
    ) -> bool | None:
        """Fail + refund + remove the placeholder character in one transaction (kept and
        written when the database answers, if it does not now), then delete the stored
        objects. True when this refunded it, False when it was settled already, None when it
        could not be written in time (the stale sweep will)."""
        if cancelled:
            message = CANCELLED
        elif isinstance(exc, DomainError):
            message = str(exc)
        elif isinstance(exc, asyncio.CancelledError):
            message = "The generation was stopped because the bot shut down."
        else:
            message = f"Internal error ({type(exc).__name__})."
        log.info("generation %s failed: %s", job.generation_id, message)
        refunded = await settle_failure(
            self.db,
            job.generation_id,
            message,
            placeholder_character_id=job.placeholder_character_id,
            within=self.settle_within,
            waiting=lambda: progress("database", None),
        )
        if refunded and self.metrics is not None:
            self.metrics.refunded()
        await delete_quietly(self.storage, job.stored_keys)
        return refunded
