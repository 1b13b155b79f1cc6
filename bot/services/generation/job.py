"""One generation's run as the runner keeps it: its phase (for cancelling), what it stored
(for the failure path), its timings, and the constants the runner's callers share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar


class Timed(Protocol):
    """What a run gives back: anything that carries the run's timings (an Outcome, say)."""

    timings: dict[str, float]


log = logging.getLogger("bot.services.generation.runner")


R = TypeVar("R", bound=Timed)
T = TypeVar("T")

DEFAULT_SETTLE_WITHIN = 20 * 60.0
"""How long an outcome waits for the database (the default stale age)."""
CANCELLED = "cancelled"
"""The error message of a generation its member cancelled."""
CANCEL_WAIT_SECONDS = 10.0
"""How long a cancel waits for the generation to be failed and refunded before answering."""

Phase = Literal["new", "queued", "working", "provider", "saving", "done"]
CancelResult = Literal["cancelled", "saving"]


@dataclass
class Job:
    """Book-keeping of one run, for the failure path and the timings."""

    generation_id: str
    kind: str = "create"
    user_id: str = ""
    stored_keys: list[str] = field(default_factory=list)
    placeholder_character_id: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    phase: Phase = "new"
    """Where the run is: waiting (queued), between steps (working), in a provider call,
    saving what it made (no longer cancellable), or done."""
    cancel_requested: bool = False
    released: bool = False
    """The process stops before it finished: its job goes back to the queue, unfailed."""
    task: asyncio.Task[Any] | None = None
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the block's duration to ``timings[name]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def settle_when_done(job: Job) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: its caller is gone, the run logged it
        job.phase = "done"
        job.settled.set()

    return done


def log_finished(job: Job, outcome: str, started: float, error: str | None = None) -> None:
    """One structured line per generation."""
    duration_ms = round((time.perf_counter() - started) * 1000)
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
