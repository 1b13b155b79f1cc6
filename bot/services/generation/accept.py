"""How a generation comes to be in a use case's prepare step: accepted now (the quota charged,
the generation recorded and its job queued, in the caller's transaction) or taken up again by
a worker (the row exists, nothing is charged again)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFoundError
from bot.services.generation.records import start_generation
from bot.services.jobs.reply import ReplyTarget, reply_target_of
from bot.services.jobs.store import accept_queued
from bot.services.quota import QuotaStatus, charge, status_of
from db.models import Generation, User

if TYPE_CHECKING:
    from bot.services.generation.runner import GenerationRunner


@dataclass(frozen=True)
class Acceptance:
    """The job a use case's generation is: its kind and request (what a worker needs to make
    it again), where its result goes, and, when a worker takes it up again, its id."""

    kind: str
    request: object
    reply: ReplyTarget | None = None
    resumed: str | None = None
    queued: bool = True
    """False where generations run in the caller (a pipeline with no queue)."""
    claimed_by: str | None = None
    """Taken at once by this process's own worker (it has one), by that worker's name."""


def accepting(runner: GenerationRunner, kind: str, request: object, progress: object) -> Acceptance:
    """The acceptance of a generation a member asks for now (its result goes where the
    progress callback's reply target says)."""
    queue = runner.queue
    reply = reply_target_of(progress)
    if queue is not None:  # the worker of this process waits for this flow to ask
        reply = dataclasses.replace(reply or ReplyTarget(), accepted_by=queue.process_id)
    claimed_by = queue.worker_name if queue is not None and queue.run_here is not None else None
    return Acceptance(kind, request, reply, queued=queue is not None, claimed_by=claimed_by)


@dataclass(frozen=True)
class Begun:
    """The generation a use case goes on with."""

    id: str
    character_id: str | None


async def begin(
    session: AsyncSession,
    user: User,
    acceptance: Acceptance,
    *,
    prompt: str,
    style: str | None,
    character_id: str | None = None,
) -> tuple[Begun, QuotaStatus]:
    """The generation and the member's quota after it: charged, recorded and queued now (two
    statements: the charge, then the generation with its job), or (taken up again) as it is.

    Raises: QuotaExceededError; NotFoundError when a generation taken up again is gone.
    """
    if acceptance.resumed is not None:
        generation = await session.get(Generation, acceptance.resumed)
        if generation is None:
            raise NotFoundError("generation")
        return Begun(generation.id, generation.character_id), status_of(user)
    quota = await charge(session, user.id)
    if not acceptance.queued:
        started = await start_generation(
            session, user_id=user.id, prompt=prompt, style=style, character_id=character_id
        )
        return Begun(started.id, character_id), quota
    queued = await accept_queued(
        session,
        user_id=user.id,
        character_id=character_id,
        prompt=prompt,
        style=style,
        kind=acceptance.kind,
        request=acceptance.request,
        reply=acceptance.reply,
        claimed_by=acceptance.claimed_by,
    )
    return Begun(queued.generation_id, character_id), quota
