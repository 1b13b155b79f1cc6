"""A provider request budget shared by every bot process, kept in PostgreSQL.

A sliding-window log: each granted request is a row of ``provider_request_slots``. A grant is
one short transaction that takes a transaction-level advisory lock for the bucket (so grants of
all processes are serialised), counts the slots of the window and inserts one when the count is
below the budget; otherwise it reports when the oldest blocking slot leaves the window. Nobody
waits inside a transaction: the waiting happens in Python, between transactions.

Within one process, waiters queue first-come in front of the database (only the head asks it),
and each is told its position through a callback while the budget is exhausted.

The window is counted with the database's clock, so processes on different hosts agree. A small
margin (10% of the window, at most 2 s) is added, because a request reaches the provider a
little after its slot is granted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], Awaitable[None]]

_GRANT_SQL = text(
    """
    WITH now AS (SELECT clock_timestamp() AS t),
    recent AS (
        SELECT s.taken_at, row_number() OVER (ORDER BY s.taken_at DESC) AS rn
        FROM provider_request_slots s, now
        WHERE s.bucket = :bucket AND s.taken_at > now.t - make_interval(secs => :window)
    )
    SELECT (SELECT count(*) FROM recent) AS used,
           (SELECT taken_at FROM recent WHERE rn = :budget) AS blocking,
           (SELECT t FROM now) AS now
    """
)
_INSERT_SQL = text(
    "INSERT INTO provider_request_slots (bucket, taken_at) VALUES (:bucket, clock_timestamp())"
)
_PRUNE_SQL = text(
    "DELETE FROM provider_request_slots "
    "WHERE bucket = :bucket AND taken_at < clock_timestamp() - make_interval(secs => :keep)"
)
_LOCK_SQL = text("SELECT pg_advisory_xact_lock(hashtext('charbot.ratelimit:' || :bucket))")


@dataclass(frozen=True)
class Attempt:
    """One try at the budget: granted, or how long until a slot frees up."""

    granted: bool
    retry_in: float = 0.0


class SharedRateLimit:
    """At most ``budget`` grants within any ``window`` seconds, across every process that uses
    the same database and bucket."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        budget: int,
        window: float = 60.0,
        bucket: str = "gemini",
        margin: float | None = None,
    ) -> None:
        if budget < 1 or window <= 0:
            msg = "budget must be at least 1 and window positive"
            raise ValueError(msg)
        self.engine = engine
        self.budget = budget
        self.window = window
        self.bucket = bucket
        self.margin = min(2.0, 0.1 * window) if margin is None else margin
        self._lock = asyncio.Lock()  # FIFO: only the head of the local queue asks the database
        self._queue: list[_Waiter] = []
        self._congested = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Requests of this process waiting for the budget right now."""
        return len(self._queue) if self._congested else 0

    async def try_acquire(self) -> Attempt:
        """One short transaction: take a slot if the window has room."""
        span = self.window + self.margin
        async with self.engine.begin() as conn:
            await conn.execute(_LOCK_SQL, {"bucket": self.bucket})
            row = (
                await conn.execute(
                    _GRANT_SQL, {"bucket": self.bucket, "window": span, "budget": self.budget}
                )
            ).one()
            used, blocking, now = int(row.used), row.blocking, row.now
            if used < self.budget:
                await conn.execute(_INSERT_SQL, {"bucket": self.bucket})
                await conn.execute(_PRUNE_SQL, {"bucket": self.bucket, "keep": span * 2})
                return Attempt(granted=True)
        return Attempt(granted=False, retry_in=_seconds_until(blocking, span, now))

    async def acquire(self, on_position: PositionCallback | None = None) -> float:
        """Wait for a slot (first come, first served in this process); return seconds waited.

        ``on_position`` hears the caller's place in the queue (1 = next) while it waits.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiter = _Waiter(on_position)
        self._queue.append(waiter)
        if self._congested:
            self._announce([waiter])
        denied = False
        try:
            async with self._lock:
                while True:
                    attempt = await self.try_acquire()
                    if attempt.granted:
                        break
                    denied = True
                    if not self._congested:
                        self._congested = True
                        self._announce(self._queue)
                    await asyncio.sleep(min(max(attempt.retry_in, 0.01), self.window))
        finally:
            self._queue.remove(waiter)
            if not denied or not self._queue:
                self._congested = False
            else:
                self._announce(self._queue)
        return loop.time() - started

    def _announce(self, waiters: list[_Waiter]) -> None:
        for waiter in list(waiters):
            if waiter.callback is None or waiter not in self._queue:
                continue
            position = self._queue.index(waiter) + 1
            if position == waiter.told:
                continue
            waiter.told = position
            task = asyncio.get_running_loop().create_task(_tell(waiter.callback, position))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


class _Waiter:
    __slots__ = ("callback", "told")

    def __init__(self, callback: PositionCallback | None) -> None:
        self.callback = callback
        self.told = 0


async def _tell(callback: PositionCallback, position: int) -> None:
    try:
        await callback(position)
    except Exception:
        log.debug("queue position callback failed", exc_info=True)


def _seconds_until(blocking: datetime | None, span: float, now: datetime) -> float:
    if blocking is None:  # the window filled between statements; look again soon
        return 0.05
    return max(0.0, (blocking - now).total_seconds() + span)
