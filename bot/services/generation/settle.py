"""Settling a generation while the database cannot be reached: its outcome (the finished rows,
or the failure with its refund) is kept in the process and written as soon as the database
answers again, for at most the stale age; what is still open after that is the stale sweep's.

Whichever settles a generation first wins: the refund is tied to the one statement that moves
the generation from pending/processing to failed (:mod:`bot.services.generation.records`), so
a write retried here after the sweep got there first changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.services.generation.records import delete_unfinished_characters, fail_generation
from db.engine import Database
from db.outage import Outage

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 2.0
"""Between tries while the database is away: so every generation waiting in the process is
settled within about two seconds of its return (sooner: a success wakes every waiter)."""


async def until_written(
    outage: Outage,
    write: Callable[[], Awaitable[T]],
    *,
    within: float,
    waiting: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """``write()``, tried again while it fails because the database cannot be reached: with
    backoff (a quarter of a second, doubling, at most two), woken at once when the outage
    ends, for at most ``within`` seconds. ``waiting`` is awaited once, when the first retry is
    due (to tell the member).

    Raises: what ``write`` raised, at once when it is not about reaching the database, else
        once ``within`` has passed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    delay = FIRST_RETRY_SECONDS
    told = False
    while True:
        try:
            result = await write()
        except Exception as error:
            left = deadline - loop.time()
            if not outage.saw(error) or left <= 0:
                raise
            if waiting is not None and not told:
                told = True
                with contextlib.suppress(Exception):  # telling the member must not stop it
                    await waiting()
            await outage.wait_back(min(delay * random.uniform(0.8, 1.2), left))
            delay = min(delay * 2, MAX_RETRY_SECONDS)
            continue
        outage.back()
        return result


async def record_failure(
    db: Database, generation_id: str, message: str, placeholder_character_id: str | None
) -> bool:
    """Fail + refund the generation and remove its placeholder character, in one transaction;
    True when this call failed it (and so gave its unit back)."""
    async with db.transaction() as session:
        refunded = await fail_generation(session, generation_id, message)
        if placeholder_character_id:
            await delete_unfinished_characters(session, [placeholder_character_id])
    return refunded


async def settle_failure(
    db: Database,
    generation_id: str,
    message: str,
    *,
    placeholder_character_id: str | None,
    within: float,
    waiting: Callable[[], Awaitable[None]] | None = None,
) -> bool | None:
    """Record a failed generation (refund included), waiting for the database when it cannot
    be reached (see :func:`until_written`). True when this call refunded it, False when it was
    already settled (by the stale sweep, say), None when it could not be recorded in time (the
    sweep will)."""
    try:
        return await until_written(
            db.outage,
            lambda: record_failure(db, generation_id, message, placeholder_character_id),
            within=within,
            waiting=waiting,
        )
    except Exception:
        log.exception(
            "could not record the failure of generation %s; the stale sweep will", generation_id
        )
        return None
