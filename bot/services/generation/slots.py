"""A per-process limit on concurrent generations, with first-come queue positions."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable

PositionCallback = Callable[[int], Awaitable[None]]

DEFAULT_ACCEPTING_AT_ONCE = 5
"""Generations accepted at once with the default database pool (10)."""

ACCEPTED_ALL_WITHIN = 2.0
"""The longest what can wait for a burst of acceptances (a generation's first stage shown)
waits for it to end, so as not to slow it down on the one event loop."""

SAVING_SHOWN_AT_ONCE = max(2, os.cpu_count() or 2)
"""Saves (thumbnail, uploads, the final transaction) of results already posted, at once: one
per core. During a burst every save ran at once, beside the image answers still arriving, and
a portrait waited behind them to be posted (100 concurrent creates, image answer → portrait
visible 139 ms at the median); a few at a time, it is posted as soon as it is drawn (42 ms),
and each save is quicker for not sharing the loop with all the others."""


def accepting_at_once(pool_size: int) -> int:
    """How many generations a process accepts at once (checks the member, charges, writes the
    rows) with this many database connections: half of them, at least one.

    A burst of commands accepted all at once takes turns on the one event loop, every
    acceptance with every other, and all reach the provider together at the end of the burst;
    a few at a time, in arrival order, the first reach it at once and the burst's median
    create about half a burst sooner (bench.latency, target 5). The other half of the pool
    stays free for every other command's reads."""
    return max(1, pool_size // 2)


class GenerationSlots:
    """At most ``limit`` holders at once; waiters are served in arrival order and told their
    position (1 = next) whenever it changes."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            msg = "limit must be at least 1"
            raise ValueError(msg)
        self.limit = limit
        self._active = 0
        self._waiters: list[tuple[asyncio.Future[None], PositionCallback | None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._nobody_waits = asyncio.Event()
        self._nobody_waits.set()

    @property
    def active(self) -> int:
        """Holders right now."""
        return self._active

    @property
    def waiting(self) -> int:
        """Waiters right now."""
        return len(self._waiters)

    @property
    def idle(self) -> bool:
        """No holder and no waiter."""
        return not self._active and not self._waiters

    async def nobody_waits(self, within: float) -> None:
        """Return once no one waits for a slot, or after ``within`` seconds."""
        if self._waiters:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nobody_waits.wait(), within)

    def _waiters_changed(self) -> None:
        if self._waiters:
            self._nobody_waits.clear()
        else:
            self._nobody_waits.set()

    async def _announce(self) -> None:
        for position, (_, callback) in enumerate(list(self._waiters), start=1):
            if callback is not None:
                with contextlib.suppress(Exception):
                    await callback(position)

    def _release(self) -> None:
        while self._waiters:
            future, _ = self._waiters.pop(0)
            self._waiters_changed()
            if not future.done():
                future.set_result(None)  # the slot passes straight to the next waiter
                return
        self._active -= 1

    @contextlib.asynccontextmanager
    async def acquire(self, on_position: PositionCallback | None = None) -> AsyncIterator[None]:
        """Hold a slot for the duration of the block, queueing when all are taken."""
        if self._active < self.limit and not self._waiters:
            self._active += 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (future, on_position)
            self._waiters.append(entry)
            self._waiters_changed()
            try:
                if on_position is not None:
                    with contextlib.suppress(Exception):
                        await on_position(len(self._waiters))
                await future
            except BaseException:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                    self._waiters_changed()
                elif future.done() and not future.cancelled():
                    self._release()  # we were handed the slot as we were cancelled
                raise
            if self._waiters:
                task = asyncio.get_running_loop().create_task(self._announce())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        try:
            yield
        finally:
            self._release()
