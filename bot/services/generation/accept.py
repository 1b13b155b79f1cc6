"""How a generation comes to be in a use case's prepare step: accepted now (the quota charged,
the generation recorded and its job queued, in the caller's transaction) or taken up again by
a worker (the row exists, nothing is charged again). A create accepted into the queue is one
statement of its own (:func:`accept_create`): the charge, its pending character, the
generation and its job."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFoundError
from bot.services.generation.records import start_generation
from bot.services.jobs.reply import ReplyTarget, reply_target_of
from bot.services.jobs.store import accept_queued, job_values, queued_statement
from bot.services.quota import (
    CHARGE_UPDATE,
    QuotaStatus,
    charge,
    charge_zone,
    charged_status,
    refused,
    status_of,
)
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


ACCEPT_CREATE_SQL = queued_statement(
    "INSERT INTO generations (user_id, character_id, prompt, style_type, status, batch_size)"
    " SELECT charged.id, placeholder.id, :prompt, :style_type, 'pending', 1"
    " FROM charged, placeholder RETURNING id",
    "SELECT generation.id AS generation_id, job.id AS queue_id,"
    " placeholder.id AS character_id, charged.daily_used, charged.daily_quota,"
    " charged.last_reset_date FROM generation, job, placeholder, charged",
    f"charged AS ({CHARGE_UPDATE})",
    "placeholder AS (INSERT INTO characters (user_id, name, description, prompt, style_type,"
    " gender, age, generation_status, metadata) SELECT charged.id, :name, :description,"
    " :prompt, :style_type, :gender, :age, :generation_status, :meta FROM charged"
    " RETURNING id)",
).bindparams(bindparam("meta", type_=JSONB))
"""A create's acceptance: the charge, the pending character (its attributes are the parameters,
named as :func:`~bot.services.generation.inputs.placeholder_values` names them), the generation
(with the character's prompt and style: the member's description and style), its queue row and
its job. Nothing is written unless the charge took a unit; one round trip, where a transaction
of its own took six (BEGIN, the member, the character, the charge, the generation with its job,
COMMIT) while the acceptance held its place in line."""


async def accept_create(
    session: AsyncSession, user: User, acceptance: Acceptance, placeholder: dict[str, object]
) -> tuple[Begun, QuotaStatus]:
    """Accept a create into the queue in one statement (:data:`ACCEPT_CREATE_SQL`); the
    pending character's attributes are ``placeholder``'s
    (:func:`~bot.services.generation.inputs.placeholder_values`). ``session`` may commit each
    statement on its own (``Database.statement()``): the statement is the whole acceptance.

    Raises: QuotaExceededError, AccountRestrictedError; NotFoundError when the member is gone.
    """
    values = {"user_id": user.id, "zone": charge_zone(user), **placeholder}
    values.update(
        job_values(acceptance.kind, acceptance.request, acceptance.reply, acceptance.claimed_by)
    )
    row = (await session.execute(ACCEPT_CREATE_SQL, values)).one_or_none()
    if row is None:  # nothing charged, nothing written: say why
        await refused(session, user.id)
    quota = charged_status(user, row)
    return Begun(str(row.generation_id), str(row.character_id)), quota
