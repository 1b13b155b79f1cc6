"""How every generation runs, whatever it makes: in a bounded slot, marked processing, its
provider calls rate-limited, timed and counted; on any failure (cancellation included) failed
and refunded as one step, with the objects it stored deleted; drained at shutdown. While the
database cannot be reached, its outcome waits in the process and is written when it answers
(:mod:`bot.services.generation.settle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bot.errors import DatabaseUnavailableError, DomainError, GenerationSavedError
from bot.providers.retry import waits_reported_to
from bot.services.generation.model import GenerationMetrics, Outcome, Progress
from bot.services.generation.records import mark_processing
from bot.services.generation.settle import settle_failure, until_written
from bot.services.generation.slots import GenerationSlots
from bot.storage.base import Storage, delete_quietly
from db.engine import Database
from db.outage import is_unreachable

if TYPE_CHECKING:
    from bot.services.ratelimit import SharedRateLimit

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_SETTLE_WITHIN = 20 * 60.0
"""How long an outcome waits for the database (the default stale age)."""


@dataclass
class Job:
    """Book-keeping of one run, for the failure path and the timings."""

    generation_id: str
    kind: str = "create"
    user_id: str = ""
    stored_keys: list[str] = field(default_factory=list)
    placeholder_character_id: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the block's duration to ``timings[name]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


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
    ) -> None:
        self.db = db
        self.storage = storage
        self.slots = slots
        self.rate_limit = rate_limit
        self.metrics = metrics
        self.settle_within = settle_within
        self._running: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- shutdown -------------------------------------------------------------------------

    def check_open(self) -> None:
        """Raises: DomainError ``error.shutting_down`` once draining has begun."""
        if self._closing:
            raise DomainError("error.shutting_down")

    @property
    def in_flight(self) -> int:
        """Generations running in this process."""
        return len(self._running)

    async def drain(self, grace: float) -> None:
        """Stop taking new generations, let running ones finish for ``grace`` seconds, then
        cancel the rest (their failure path refunds them)."""
        self._closing = True
        pending = set(self._running)
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=grace)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=10)

    # -- one run ----------------------------------------------------------------------------

    async def run(
        self, job: Job, progress: Progress, work: Callable[[], Awaitable[Outcome]]
    ) -> Outcome:
        """Run ``work`` (provider calls, then persist) for the pending generation of ``job``:
        in a slot, after marking it processing. Any failure fails it (refunding its unit once),
        deletes what it stored and any half-made character, then re-raises; when that failure
        could only be written after a database outage, or not at all, it raises
        DatabaseUnavailableError instead, saying whether the unit came back."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        started = time.perf_counter()
        try:
            async with self.slots.acquire(lambda pos: progress("queued", pos)):
                with job.timed("db_processing"):
                    async with self.db.transaction() as session:
                        await mark_processing(session, job.generation_id)
                outcome = await work()
        except GenerationSavedError:  # completed after all: nothing to fail or delete
            self._finished(job, "completed", started)
            raise
        except BaseException as exc:
            settled = await asyncio.shield(self._fail(job, exc, progress))
            outcome_name = "cancelled" if isinstance(exc, asyncio.CancelledError) else "failed"
            self._finished(job, outcome_name, started, error=type(exc).__name__)
            if isinstance(exc, Exception) and (settled is None or is_unreachable(exc)):
                if settled is None:  # the stale sweep will give the unit back
                    raise DatabaseUnavailableError("error.database_refund_pending") from exc
                raise DatabaseUnavailableError("error.database_refunded") from exc
            raise
        finally:
            if task is not None:
                self._running.discard(task)
        self._finished(job, "completed", started)
        outcome.timings = job.timings
        return outcome

    async def call_provider(
        self,
        job: Job,
        provider: str,
        stage: str,
        progress: Progress,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        """One provider call: wait for the shared budget (the member sees the queue position,
        then the stage again), then call, timed and counted."""
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
        start = time.perf_counter()
        ok = False
        busy = False

        async def on_wait(seconds: float) -> None:  # the provider is busy: waiting it out
            nonlocal busy
            busy = True
            await progress("busy", None)

        try:
            with waits_reported_to(on_wait):
                result = await call()
            ok = True
            if busy:
                await progress(stage, None)
            return result
        finally:
            elapsed = time.perf_counter() - start
            name = f"provider_{provider}"
            job.timings[name] = job.timings.get(name, 0.0) + elapsed
            if self.metrics is not None:
                self.metrics.provider_call(provider, elapsed, ok=ok)

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
        duration_ms = round((time.perf_counter() - started) * 1000)
        if self.metrics is not None:
            self.metrics.generation_finished(job.kind, outcome)
        log.info(
            "generation %s kind=%s user=%s outcome=%s duration_ms=%d",
            job.generation_id,
            job.kind,
            job.user_id,
            outcome,
            duration_ms,
            extra={
                "event": "generation",
                "generation_id": job.generation_id,
                "kind": job.kind,
                "user_id": job.user_id,
                "outcome": outcome,
                "duration_ms": duration_ms,
                "error": error,
                "timings_ms": {k: round(v * 1000) for k, v in job.timings.items()},
            },
        )

    async def _fail(self, job: Job, exc: BaseException, progress: Progress) -> bool | None:
        """Fail + refund + remove the placeholder character in one transaction (kept and
        written when the database answers, if it does not now), then delete the stored
        objects. True when this refunded it, False when it was settled already, None when it
        could not be written in time (the stale sweep will)."""
        if isinstance(exc, DomainError):
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
