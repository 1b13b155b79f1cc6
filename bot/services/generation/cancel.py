"""Cancel: a member stops a generation of theirs. Running or waiting in this process, it is
abandoned there (:meth:`GenerationRunner.cancel`); otherwise its row is failed and refunded
here, its job taken out of the queue if no worker has it yet, and the worker that runs it
(told through PostgreSQL) abandons it."""

from __future__ import annotations

from typing import Literal

from bot.errors import NotFoundError, NotOwnerError
from bot.services.characters import is_valid_id
from bot.services.generation.records import fail_and_clear
from bot.services.generation.runner import CANCELLED, GenerationRunner
from bot.services.jobs.queue import announce_cancel
from bot.services.jobs.store import cancel_queued
from db.models import Generation

CancelAnswer = Literal["cancelled", "saving", "finished", "stopped"]
"""cancelled (failed and refunded now), saving (too late: it is being saved), finished
(it had completed), stopped (it had already failed or been cancelled)."""


async def _status(runner: GenerationRunner, generation_id: str) -> Generation:
    async with runner.db.read() as session:
        row = await session.get(Generation, generation_id)
    if row is None:
        raise NotFoundError("generation")
    return row


def _settled(status: str | None) -> CancelAnswer | None:
    if status == "completed":
        return "finished"
    if status == "failed":
        return "stopped"
    return None


async def cancel_generation(
    runner: GenerationRunner, generation_id: str, user_id: str
) -> CancelAnswer:
    """Cancel the member's generation; what became of it.

    Raises: NotFoundError("generation"), NotOwnerError (someone else's).
    """
    if not is_valid_id(generation_id):
        raise NotFoundError("generation")
    row = await _status(runner, generation_id)
    if row.user_id != user_id:
        raise NotOwnerError
    done = _settled(row.status)
    if done is not None:
        return done
    result = await runner.cancel(generation_id)
    if result is not None:
        return result
    async with runner.db.transaction() as session:
        failed = bool(await fail_and_clear(session, [generation_id], CANCELLED))
        if failed and runner.queue is not None:  # out of the queue; a worker running it stops
            await cancel_queued(session, generation_id)
            await announce_cancel(session, generation_id)
    if failed:
        if runner.queue is not None:
            runner.queue.cancelled(generation_id)
        return "cancelled"
    return _settled((await _status(runner, generation_id)).status) or "stopped"
