"""The flows waiting in this process for generations they accepted: the worker that takes one
up here runs it with the flow's own work and progress and hands the outcome back, so a member
sees what they saw before jobs existed; a flow that is gone leaves the post to the worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

ARRIVAL_WAIT = 5.0
"""How long a worker waits for the flow of a generation its own process accepted (the job can
be picked between the commit and the flow's next step)."""


@dataclass
class Waiter:
    """A flow waiting for its generation."""

    job: Any
    progress: Callable[[str, int | None], Awaitable[None]]
    work: Callable[[], Awaitable[Any]]
    turn: AbstractAsyncContextManager[None] | None
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def hand_over(self, outcome: Any) -> bool:
        """Give the flow its outcome; False when the flow is gone (the worker posts it)."""
        if self.future.done():
            return False
        self.future.set_result(outcome)
        return True

    def fail(self, error: BaseException) -> None:
        """Tell the flow its generation ended without an outcome."""
        if not self.future.done():
            if isinstance(error, asyncio.CancelledError):
                self.future.cancel()
            else:
                self.future.set_exception(error)


class Waiters:
    """Flows waiting in this process, by generation id."""

    def __init__(self) -> None:
        self._waiting: dict[str, Waiter] = {}
        self._arrived: dict[str, asyncio.Event] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, generation_id: str, waiter: Waiter) -> None:
        """The flow waits for the generation."""
        self._waiting[generation_id] = waiter
        event = self._arrived.pop(generation_id, None)
        if event is not None:
            event.set()

    def remove(self, generation_id: str, waiter: Waiter) -> None:
        """The flow stopped waiting."""
        if self._waiting.get(generation_id) is waiter:
            del self._waiting[generation_id]

    def get(self, generation_id: str) -> Waiter | None:
        """The flow waiting for the generation, if one waits here."""
        return self._waiting.get(generation_id)

    async def claim(self, generation_id: str, *, expect: bool) -> Waiter | None:
        """Take the flow waiting for the generation (once); with ``expect`` (this process
        accepted it) wait a moment for it to arrive."""
        waiter = self._waiting.pop(generation_id, None)
        if waiter is not None or not expect:
            return waiter
        event = self._arrived.setdefault(generation_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ARRIVAL_WAIT):
                await event.wait()
        self._arrived.pop(generation_id, None)
        return self._waiting.pop(generation_id, None)
