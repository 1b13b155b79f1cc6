"""Admission: acknowledge every interaction at once, then let a bounded number do their work.

Discord gives an interaction 3 seconds to be acknowledged and 15 minutes for the answer that
follows. When more interactions arrive than the process can serve, letting all of them work
at once makes every step of every one wait behind all the others on the one event loop, and
the acknowledgements of newly arrived interactions (and the autocomplete answers, which cannot
be deferred) come late. So a deferred interaction's work waits for one of ``limit`` slots:
the loop then only ever holds a bounded amount of ready work, new interactions are
acknowledged at once, and the waiting ones are served in arrival order.

A quick interaction that finds a slot free needs no separate acknowledgement: its answer is
the first response, and it is deferred only if that answer is late (``acknowledge(...,
directly=True)``). Every first response goes through :func:`first_answer`, so an answer and
a deferral never both go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord

log = logging.getLogger(__name__)

# A slot is lent for this long at most: work stuck on an outside service must not keep the
# other interactions waiting (the stuck task itself goes on).
MAX_HOLD_SECONDS = 30.0
# A quick interaction that finds a slot free answers in its first response (one request
# instead of a defer and then an edit, so the member sees the answer one round trip sooner);
# when its answer is not ready this soon it is deferred after all, so a slow database still
# never makes Discord wait.
DIRECT_ANSWER_SECONDS = 0.05
_ANSWER_LOCK = "answer_lock"
_LATE_DEFER = "late_defer"


class Admission:
    """At most ``limit`` tasks past :meth:`enter` at once; a task keeps its slot until it sends
    its answer (:meth:`leave`) or ends, or for ``max_hold`` seconds at most."""

    def __init__(self, limit: int, *, max_hold: float = MAX_HOLD_SECONDS) -> None:
        if limit < 1:
            msg = "the admission limit must be at least 1"
            raise ValueError(msg)
        self.limit = limit
        self._max_hold = max_hold
        self._slots = asyncio.Semaphore(limit)
        self._inside: dict[asyncio.Task[Any], asyncio.TimerHandle] = {}
        self._late_defers: set[asyncio.Task[None]] = set()
        self._waiting = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def waiting(self) -> int:
        """Tasks waiting for a slot."""
        return self._waiting

    @property
    def working(self) -> int:
        """Tasks holding a slot."""
        return len(self._inside)

    @property
    def free(self) -> bool:
        """Whether a task entering now gets a slot without waiting."""
        return not self._waiting and not self._slots.locked()

    async def enter(self) -> None:
        """Wait for a slot for the current task (once: a task already inside returns at once);
        the slot is given back when the task finishes, however it finishes."""
        task = asyncio.current_task()
        if task is None or task in self._inside:
            return
        self._waiting += 1
        self._idle.clear()
        try:
            await self._slots.acquire()
        except BaseException:  # cancelled while waiting
            self._waiting -= 1
            self._note_idle()
            raise
        self._waiting -= 1
        timer = asyncio.get_running_loop().call_later(self._max_hold, self._leave, task)
        self._inside[task] = timer
        task.add_done_callback(self._leave)

    def leave(self) -> None:
        """The current task's work is done and its answer is going out: its slot goes to the
        next waiting task now, not after the request to Discord returns (a slot bounds the work
        on the loop; a request in flight is no work of this process, and holding slots across
        Discord's answer made every slot wait on the network under load)."""
        task = asyncio.current_task()
        if task is not None:
            self._leave(task)

    def _leave(self, task: asyncio.Task[Any]) -> None:
        timer = self._inside.pop(task, None)
        if timer is None:  # already left (its time was up, then it ended)
            return
        timer.cancel()
        self._slots.release()
        self._note_idle()

    def defer_later(
        self, interaction: discord.Interaction[Any], defer: dict[str, Any], delay: float
    ) -> None:
        """Defer the interaction after ``delay`` seconds unless its first response has been
        sent by then (:func:`first_answer` calls the deferral off)."""

        def fire() -> None:
            if interaction.extras.pop(_LATE_DEFER, None) is None:
                return
            task = asyncio.ensure_future(_defer_late(interaction, defer))
            self._late_defers.add(task)
            task.add_done_callback(self._late_defers.discard)

        loop = asyncio.get_running_loop()
        interaction.extras[_LATE_DEFER] = loop.call_later(delay, fire)

    def _note_idle(self) -> None:
        if not self._waiting and not self._inside:
            self._idle.set()

    async def drain(self, grace: float) -> bool:
        """Wait up to ``grace`` seconds for every admitted and waiting interaction to finish its
        work (at shutdown, so members who were acknowledged still get their answer); whether
        all did."""
        try:
            async with asyncio.timeout(grace):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class InFlight:
    """Tasks that shutdown lets finish: a generating flow whose portrait is drawn still has to
    post it, open its thread and say welcome after the generation itself has ended."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def track(self) -> None:
        """Count the current task in until it ends."""
        task = asyncio.current_task()
        if task is None or task in self._tasks:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace: float) -> bool:
        """Wait up to ``grace`` seconds for every tracked task to end; whether all did."""
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        return not pending


@contextlib.asynccontextmanager
async def first_answer(interaction: discord.Interaction[Any]) -> AsyncIterator[bool]:
    """Hold the interaction's answer lock and yield whether its first response is still to be
    sent: a caller told True sends it inside the block. Every first response goes through
    here, so a late deferral and the answer can never both be sent."""
    lock = interaction.extras.get(_ANSWER_LOCK)
    if lock is None:
        lock = interaction.extras[_ANSWER_LOCK] = asyncio.Lock()
    async with lock:
        still_open = not interaction.response.is_done()
        if still_open:
            late = interaction.extras.pop(_LATE_DEFER, None)
            if late is not None:  # the answer is going out: no deferral needed
                late.cancel()
        yield still_open


async def defer_now(interaction: discord.Interaction[Any], defer: dict[str, Any]) -> None:
    async with first_answer(interaction) as still_open:
        if still_open:
            await interaction.response.defer(**defer)


async def _defer_late(interaction: discord.Interaction[Any], defer: dict[str, Any]) -> None:
    try:
        await defer_now(interaction, defer)
    except Exception:
        log.debug("could not defer interaction %s late", interaction.id, exc_info=True)
