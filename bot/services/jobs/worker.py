"""The worker: takes generation jobs from the queue (pgqueuer, on a connection of its own),
makes each (with the waiting flow's work when the flow is in this process, else from the job's
request), and sees its result posted once. A job whose worker stopped hearing from it is taken
up again after the heartbeat timeout, at most ``max_attempts`` times; then it is failed and
refunded. At shutdown the worker stops taking jobs, lets the running ones finish within the
grace period and gives the rest back to the queue, unfailed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg  # type: ignore[import-untyped]
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job as QueueJob
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries

from bot.errors import GenerationReleased, HandedToWorker
from bot.services.generation.records import fail_and_clear
from bot.services.jobs.queue import CANCEL_CHANNEL, JobQueue
from bot.services.jobs.reply import ReplyTarget
from bot.services.jobs.store import (
    ENTRYPOINT,
    TakenUp,
    claim_delivery,
    find_job,
    finish_job,
    heartbeat,
    requeue,
    take_up,
)
from bot.services.jobs.waiters import Waiter, Waiters
from db.engine import Database
from db.outage import is_unreachable

if TYPE_CHECKING:
    from bot.services.generation.runner import GenerationRunner

log = logging.getLogger(__name__)


class _NoTracebackForAnOutage(logging.Filter):
    """pgqueuer logs its failed heartbeats and status writes with their stack traces; while the
    database is unreachable one line each is enough (the outage itself is logged once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_unreachable(error):
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("pgqueuer").addFilter(_NoTracebackForAnOutage())

TOO_MANY_ATTEMPTS = "The generation was interrupted too often and did not finish."
RECONNECT_SECONDS = 1.0

Remake = Callable[[TakenUp], Awaitable[Any]]
"""Makes a generation again from its job (its kind's use case, taken up)."""
Deliver = Callable[[str, ReplyTarget | None], Awaitable[None]]
"""Posts a generation's result (or what stopped it) where its reply target says."""


class WorkerMetrics(Protocol):
    """What a worker reports (``bot.ops.metrics.BotMetrics`` is one)."""

    def job_taken(self, worker: str, *, retry: bool) -> None:
        """A worker took up a generation job (again, when ``retry``)."""

    def refunded(self, units: int = 1, source: str = "pipeline") -> None:
        """Quota units were given back."""


class GenerationWorker:
    """Takes generation jobs from the queue; ``concurrency`` at a time."""

    def __init__(
        self,
        db: Database,
        runner: GenerationRunner,
        waiters: Waiters,
        *,
        dsn: str,
        name: str,
        process_id: str,
        remake: Remake,
        deliver: Deliver,
        concurrency: int,
        heartbeat_seconds: float,
        max_attempts: int,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.db = db
        self.runner = runner
        self.waiters = waiters
        self.dsn = dsn
        self.name = name
        self.process_id = process_id
        self.remake = remake
        self.deliver = deliver
        self.concurrency = concurrency
        self.heartbeat = timedelta(seconds=heartbeat_seconds)
        self.max_attempts = max_attempts
        self.metrics = metrics
        self.taken = 0
        """Jobs this worker took up (for the logs and the benchmarks)."""
        self._active: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        self._manager: QueueManager | None = None
        self._serving: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._claimed: set[str] = set()
        self._beating: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """Every slot of this worker is taken."""
        return len(self._active) >= self.concurrency

    # -- serving ---------------------------------------------------------------------------

    def start(self, queue: JobQueue | None = None) -> None:
        """Take jobs from now on (in the background); with the ``queue`` of this process, also
        the jobs its flows accept (taken at acceptance, run here)."""
        if self._serving is None:
            self._serving = asyncio.create_task(self._serve())
            self._beating = asyncio.create_task(self._beat())
        if queue is not None:
            queue.worker_name = self.name
            queue.run_here = self.run_here

    def run_here(self, generation_id: str) -> None:
        """Run a job this worker took when its flow accepted it."""
        if generation_id not in self._active and not self._closing:
            self._claimed.add(generation_id)
            self._track(generation_id, self._run_claimed(generation_id))

    def _track(self, generation_id: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` for the generation as this worker's, until it ends."""
        task = asyncio.create_task(work)
        self._active[generation_id] = task
        task.add_done_callback(lambda _: self._active.pop(generation_id, None))
        return task

    async def _run_claimed(self, generation_id: str) -> None:
        try:
            await self._make(generation_id, claimed=True)
        except GenerationReleased:
            await requeue(self.db, generation_id)
            return
        finally:
            self._claimed.discard(generation_id)
        await finish_job(self.db, generation_id)

    async def _beat(self) -> None:
        """The heartbeat of the jobs taken at acceptance (the queue beats for the others)."""
        while True:
            await asyncio.sleep(self.heartbeat.total_seconds() / 4)
            try:
                await heartbeat(self.db, list(self._claimed))
            except Exception as error:  # an outage: the database handle logs it once
                if not is_unreachable(error):
                    log.exception("the heartbeat of the running generations failed")

    async def _serve(self) -> None:
        while not self._closing:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self.dsn)
                await connection.add_listener(CANCEL_CHANNEL, self._on_cancel)
                manager = QueueManager(Queries.from_asyncpg_connection(connection))
                manager.entrypoint(ENTRYPOINT)(self._entry)
                self._manager = manager
                if self._closing:
                    return
                await manager.run(
                    batch_size=1,
                    max_concurrent_tasks=max(2, self.concurrency),
                    heartbeat_timeout=self.heartbeat,
                    dequeue_timeout=timedelta(seconds=5),
                    log_aggregation_interval=timedelta(0),
                )
            except Exception as error:  # the queue's own connection: reconnect
                if is_unreachable(error):  # an outage is logged once, by the database handle
                    log.info("the generation worker reconnects to the queue (%s)", error)
                else:
                    log.exception("the generation worker lost its queue connection")
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                self._manager = None
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), 5)

    def _on_cancel(self, connection: object, pid: object, channel: object, payload: object) -> None:
        if isinstance(payload, str):
            task = asyncio.create_task(self.runner.cancel(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _entry(self, job: QueueJob) -> None:
        generation_id = (job.payload or b"").decode()
        running = self._active.get(generation_id)  # set: picked again while running here
        if running is None:
            running = self._track(generation_id, self._make(generation_id))
        try:
            await asyncio.shield(running)
        except GenerationReleased:
            raise RetryRequested(reason="released at shutdown") from None

    # -- one job ---------------------------------------------------------------------------

    async def _make(self, generation_id: str, *, claimed: bool = False) -> None:
        """Make the generation's job: for the flow waiting for it here, else again from its
        request. ``claimed``: taken at acceptance (its first attempt counted then), its flow
        waits here: run at once, without reading the job first."""
        waiter = await self.waiters.claim(generation_id, expect=False) if claimed else None
        if waiter is not None:
            self._count(retry=False)
            await self._run_waiting(generation_id, waiter, None)
            return
        if claimed:  # its flow went meanwhile: this is still the attempt counted at acceptance
            found = await find_job(self.db, generation_id)
        else:
            found = await take_up(self.db, generation_id, self.name)
        if found is None:
            return
        if found.status not in ("pending", "processing"):
            if not found.delivered:  # finished, but its worker stopped before the post
                await self._deliver(found)
            return
        if found.attempts > self.max_attempts:
            await self._give_up(found)
            return
        self._count(retry=found.attempts > 1)
        expect = found.reply is not None and found.reply.accepted_by == self.process_id
        waiter = await self.waiters.claim(generation_id, expect=expect)
        if waiter is not None:
            await self._run_waiting(generation_id, waiter, found)
            return
        self.runner.taking_up.add(generation_id)
        try:
            await self.remake(found)
        except GenerationReleased:
            raise
        except Exception:  # failed and refunded by the run; its post says so
            log.info("generation %s taken up by %s failed", generation_id, self.name, exc_info=True)
        finally:
            self.runner.taking_up.discard(generation_id)
        await self._deliver(found)
        late = self.waiters.get(generation_id)
        if late is not None:  # a flow that came after its job was taken up: posted already
            late.fail(HandedToWorker())

    def _count(self, *, retry: bool) -> None:
        self.taken += 1
        if self.metrics is not None:
            self.metrics.job_taken(self.name, retry=retry)

    async def _run_waiting(self, generation_id: str, waiter: Waiter, found: TakenUp | None) -> None:
        """Run the job with the work and progress of the flow waiting for it, which posts the
        outcome; posted from the job (``found``, else read now) when that flow is gone."""
        try:
            outcome = await self.runner.execute(
                waiter.job, waiter.progress, waiter.work, turn=waiter.turn
            )
        except BaseException as error:
            waiter.fail(error)
            if isinstance(error, GenerationReleased | asyncio.CancelledError):
                raise
            await claim_delivery(self.db, generation_id, "flow")  # the flow tells it
            return
        if waiter.hand_over(outcome):
            await claim_delivery(self.db, generation_id, "flow")
            return
        found = found or await find_job(self.db, generation_id)  # the flow is gone
        if found is not None:
            await self._deliver(found)

    async def _give_up(self, found: TakenUp) -> None:
        async with self.db.transaction() as session:
            failed = await fail_and_clear(session, [found.generation_id], TOO_MANY_ATTEMPTS)
        if failed:
            log.warning(
                "generation %s failed after %d attempts", found.generation_id, found.attempts - 1
            )
            if self.metrics is not None:
                self.metrics.refunded(sum(1 for f in failed if f.refunded), source="job")
        await self._deliver(found)

    async def _deliver(self, found: TakenUp) -> None:
        if await claim_delivery(self.db, found.generation_id, self.name):
            try:
                await self.deliver(found.generation_id, found.reply)
            except Exception:
                log.exception("posting generation %s failed", found.generation_id)

    # -- shutdown --------------------------------------------------------------------------

    async def drain(self, grace: float) -> None:
        """Stop taking jobs; let the running ones finish within ``grace`` seconds, then give the
        rest back to the queue (another worker, or this one after a restart, takes them up)."""
        self._closing = True
        if self._manager is not None:
            self._manager.shutdown.set()
        await self.runner.drain(grace, release=True)
        active = set(self._active.values())
        if active:
            await asyncio.wait(active, timeout=10)
        if self._serving is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._serving), 10)
            if not self._serving.done():
                self._serving.cancel()
        if self._beating is not None:
            self._beating.cancel()
