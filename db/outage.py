"""Whether the database can be reached: which errors say it cannot, and an outage as the bot
lives through it (since when, how many interactions were answered with an error, when it came
back). Every part of the bot reports what it sees to the one :class:`Outage` of its
:class:`~db.engine.Database`; a new pooled connection, or any write that succeeds, ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

# Errors of the driver that mean the server is gone, refuses, or is not ready (class 08, 57P0x).
_DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)
# Where a bare OSError must have come from to speak of the database (not of S3 or Discord).
_DATABASE_MODULES = ("asyncpg", "sqlalchemy")


def _raised_by_database_code(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if any(f"{part}/" in filename or f"{part}\\" in filename for part in _DATABASE_MODULES):
            return True
        tb = tb.tb_next
    return False


def _one_says_unreachable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(
        error,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | sa_exc.DisconnectionError,
    ):
        return True
    if isinstance(error, _DRIVER_ERRORS):
        return True
    if isinstance(error, OSError):  # refused, reset, timed out (TimeoutError is one too)
        if _raised_by_database_code(error):
            return True
        # asyncio.timeout() raises from its own frame: what it interrupted tells
        interrupted = error.__context__ if isinstance(error, TimeoutError) else None
        return interrupted is not None and _raised_by_database_code(interrupted)
    return False


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) says the database could not be reached: a refused or
    dropped connection, a connection timeout, an exhausted pool, a server shutting down."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen or len(seen) > 16:
            continue
        seen.add(id(current))
        if _one_says_unreachable(current):
            return True
        todo.extend(
            (getattr(current, "orig", None), getattr(current, "original", None), current.__cause__)
        )
    return False


class Outage:
    """The database's reachability as this process sees it. Not reachable from the first error
    that says so (:meth:`saw`) until a connection or write succeeds (:meth:`back`); the
    recovery is logged once, with how long it lasted and what it cost."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since: float | None = None
        self._since_wall: datetime | None = None
        self._errors = 0
        self._back = asyncio.Event()
        self.outages = 0
        """Outages that began since the process started."""
        self.interactions_failed_total = 0
        """Interactions answered with the database error, since the process started."""

    @property
    def down(self) -> bool:
        """Whether the database is unreachable right now (as far as the bot knows)."""
        return self._since is not None

    @property
    def since(self) -> datetime | None:
        """When the outage began (UTC), or None."""
        return self._since_wall

    @property
    def seconds(self) -> float:
        """How long the current outage has lasted (0 when there is none)."""
        return 0.0 if self._since is None else self._clock() - self._since

    def saw(self, error: BaseException) -> bool:
        """Note ``error``: True (and the outage begins, if it had not) when it says the
        database cannot be reached."""
        if not is_unreachable(error):
            return False
        self.begin(type(error).__name__)
        return True

    def begin(self, reason: str) -> None:
        """The database could not be reached (``reason`` says how): the outage begins, unless
        it already has."""
        if self._since is not None:
            return
        self._since = self._clock()
        self._since_wall = datetime.now(UTC)
        self._errors = 0
        self.outages += 1
        self._back = asyncio.Event()
        log.warning(
            "database unreachable since %s (%s)",
            self._since_wall.isoformat(timespec="seconds"),
            reason,
            extra={"event": "database_unreachable"},
        )

    def answered_with_error(self) -> None:
        """An interaction was answered with the database error during the outage."""
        self._errors += 1
        self.interactions_failed_total += 1

    def back(self) -> None:
        """The database answered: end the outage (logged once) and wake its waiters."""
        if self._since is None:
            return
        seconds = self._clock() - self._since
        since = self._since_wall.isoformat(timespec="seconds") if self._since_wall else "?"
        log.warning(
            "database back after %.1f s (unreachable since %s, %d interactions answered with an "
            "error)",
            seconds,
            since,
            self._errors,
            extra={
                "event": "database_back",
                "outage_seconds": round(seconds, 3),
                "interactions_failed": self._errors,
            },
        )
        self._since = None
        self._since_wall = None
        self._back.set()

    async def wait_back(self, seconds: float) -> None:
        """Wait until the outage ends, at most ``seconds``."""
        if self._since is None:
            return
        event = self._back
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
