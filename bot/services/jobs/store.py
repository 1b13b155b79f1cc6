"""The job rows: accepting a generation into the queue (in the caller's transaction), taking it
up, claiming its post, cancelling it while it waits, and what the queue holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, LargeBinary, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.jobs.codec import encode
from bot.services.jobs.reply import ReplyTarget
from db.engine import Database
from db.meta import GENERATION_ID, IMAGE_KEY
from db.models import Character

ENTRYPOINT = "generation"
"""The queue's name for a generation job (its payload: the generation's id)."""


_QUEUED = """
    job AS (
        INSERT INTO pgqueuer (priority, entrypoint, payload, status)
        SELECT 0, :entrypoint, convert_to(generation.id, 'UTF8'),
            CAST(CASE WHEN :claimed THEN 'picked' ELSE 'queued' END AS pgqueuer_status)
        FROM generation
        RETURNING id
    ),
    logged AS (
        INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
        SELECT id, 'queued', :entrypoint, 0 FROM job
    ),
    kept AS (
        INSERT INTO generation_jobs
            (generation_id, kind, request, reference, reply, queue_job_id, attempts, worker)
        SELECT generation.id, :kind, :request, :reference, :reply, job.id,
            CASE WHEN :claimed THEN 1 ELSE 0 END, :worker
        FROM generation, job
    )
"""


def queued_statement(generation: str, select: str, *before: str) -> TextClause:
    """One statement that records a pending generation (the ``generation`` CTE's INSERT,
    returning its id) with its queue row, the queue's own log line and its job, after the
    ``before`` CTEs (``name AS (...)``), and answers ``select``. Parameters: the generation's,
    and ``entrypoint``, ``claimed``, ``kind``, ``request``, ``reference``, ``reply``, ``worker``
    (:func:`job_values`)."""
    ctes = ",\n".join([*before, f"generation AS ({generation})", _QUEUED])
    return text(f"WITH {ctes}\n{select}").bindparams(
        bindparam("request", type_=JSONB),
        bindparam("reply", type_=JSONB),
        bindparam("reference", type_=LargeBinary),
        bindparam("claimed", type_=Boolean),
    )


ACCEPT_SQL = queued_statement(
    "INSERT INTO generations (user_id, character_id, prompt, style_type, status, batch_size)"
    " VALUES (:user_id, :character_id, :prompt, :style, 'pending', 1) RETURNING id",
    "SELECT generation.id AS generation_id, job.id AS queue_id FROM generation, job",
)
"""The pending generation, its queue row (with the queue's own log line) and its job, as one
statement: pgqueuer's enqueue, then the job row, then the claim were three round trips more,
each waited for while the acceptance holds its place in line."""


def job_values(
    kind: str, request: object, reply: ReplyTarget | None, claimed_by: str | None
) -> dict[str, Any]:
    """The job's parameters of a :func:`queued_statement`."""
    data, blob = encode(request)
    return {
        "entrypoint": ENTRYPOINT,
        "claimed": claimed_by is not None,
        "kind": kind,
        "request": data,
        "reference": blob,
        "reply": reply.to_json() if reply is not None else {},
        "worker": claimed_by,
    }


@dataclass(frozen=True)
class Queued:
    """An accepted generation: its id and its queue job's id."""

    generation_id: str
    queue_id: int


async def accept_queued(
    session: AsyncSession,
    *,
    user_id: str,
    character_id: str | None,
    prompt: str,
    style: str | None,
    kind: str,
    request: object,
    reply: ReplyTarget | None,
    claimed_by: str | None = None,
) -> Queued:
    """Record a pending generation and queue it, keeping the request and where its result
    goes; in the caller's transaction (which charged the quota), so the charge, the generation
    and its job exist together or not at all. ``claimed_by``: the job is taken at once by the
    caller's own worker of that name (picked, its heartbeat now, its first attempt counted):
    no other worker takes it unless that heartbeat stops."""
    values = {"user_id": user_id, "character_id": character_id, "prompt": prompt, "style": style}
    values.update(job_values(kind, request, reply, claimed_by))
    row = (await session.execute(ACCEPT_SQL, values)).one()
    return Queued(str(row.generation_id), int(row.queue_id))


_JOB_OF = "SELECT queue_job_id FROM generation_jobs WHERE generation_id = :id"


async def heartbeat(db: Database, generation_ids: list[str]) -> None:
    """The worker running these generations' jobs (taken at acceptance) is alive."""
    if not generation_ids:
        return
    async with db.statement() as session:  # one statement: it commits on its own
        await session.execute(
            text(
                "UPDATE pgqueuer SET heartbeat = now() WHERE status = 'picked' AND id IN "
                "(SELECT queue_job_id FROM generation_jobs WHERE generation_id = ANY(:ids))"
            ),
            {"ids": generation_ids},
        )


async def finish_job(db: Database, generation_id: str) -> None:
    """The job taken at acceptance is done: out of the queue."""
    async with db.statement() as session:  # one statement: it commits on its own
        await session.execute(
            text(f"DELETE FROM pgqueuer WHERE status = 'picked' AND id = ({_JOB_OF})"),
            {"id": generation_id},
        )


async def requeue(db: Database, generation_id: str) -> None:
    """Give a job taken at acceptance back to the queue (the process stops): any worker takes
    it up."""
    async with db.statement() as session:  # one statement: it commits on its own
        await session.execute(
            text(
                "UPDATE pgqueuer SET status = 'queued', queue_manager_id = NULL, updated = now() "
                f"WHERE status = 'picked' AND id = ({_JOB_OF})"
            ),
            {"id": generation_id},
        )


@dataclass(frozen=True)
class TakenUp:
    """A generation's job as a worker finds it."""

    generation_id: str
    kind: str
    request: dict[str, Any]
    reference: bytes | None
    reply: ReplyTarget | None
    attempts: int
    status: str
    """The generation's status (pending or processing: to do; completed or failed: done)."""
    delivered: bool


_JOB = """
    SELECT j.kind, j.request, j.reference, j.reply, j.attempts,
           j.delivered_at IS NOT NULL AS delivered, g.status
    FROM generation_jobs j JOIN generations g ON g.id = j.generation_id
    WHERE j.generation_id = :id
"""


async def take_up(db: Database, generation_id: str, worker: str) -> TakenUp | None:
    """Count one more attempt of an open generation (and who makes it); None when there is no
    job for it (a generation accepted before jobs existed, or deleted since)."""
    async with db.transaction() as session:
        row = (
            await session.execute(text(_JOB + " FOR UPDATE OF j"), {"id": generation_id})
        ).one_or_none()
        if row is None:
            return None
        attempts = int(row.attempts)
        if row.status in ("pending", "processing"):
            attempts += 1
            await session.execute(
                text(
                    "UPDATE generation_jobs SET attempts = :n, worker = :w "
                    "WHERE generation_id = :id"
                ),
                {"n": attempts, "w": worker, "id": generation_id},
            )
    return _taken_up(generation_id, row, attempts)


async def find_job(db: Database, generation_id: str) -> TakenUp | None:
    """The generation's job as it stands (no attempt counted); None when there is none."""
    async with db.read() as session:
        row = (await session.execute(text(_JOB), {"id": generation_id})).one_or_none()
    return None if row is None else _taken_up(generation_id, row, int(row.attempts))


def _taken_up(generation_id: str, row: Any, attempts: int) -> TakenUp:
    return TakenUp(
        generation_id,
        str(row.kind),
        dict(row.request),
        bytes(row.reference) if row.reference is not None else None,
        ReplyTarget.from_json(dict(row.reply or {})),
        attempts,
        str(row.status),
        bool(row.delivered),
    )


async def claim_delivery(db: Database, generation_id: str, by: str) -> bool:
    """Claim the post of the generation's result (or failure): True for the one caller that
    may post it. The token is forgotten with the claim."""
    async with db.statement() as session:  # one statement: it commits on its own
        claimed = await session.execute(
            text(
                """
                UPDATE generation_jobs
                SET delivered_by = :by, delivered_at = now(), reply = reply - 'token',
                    reference = NULL
                WHERE generation_id = :id AND delivered_at IS NULL
                RETURNING 1
                """
            ),
            {"id": generation_id, "by": by},
        )
        return claimed.scalar_one_or_none() is not None


async def forget_reference(db: Database, generation_id: str) -> None:
    """The reference picture is stored with the result: the job need not keep it."""
    async with db.statement() as session:  # one statement: it commits on its own
        await session.execute(
            text("UPDATE generation_jobs SET reference = NULL WHERE generation_id = :id"),
            {"id": generation_id},
        )


async def cancel_queued(session: AsyncSession, generation_id: str) -> bool:
    """Take the generation's job out of the queue if no worker has picked it yet."""
    result = await session.execute(
        text(f"DELETE FROM pgqueuer WHERE status = 'queued' AND id = ({_JOB_OF}) RETURNING 1"),
        {"id": generation_id},
    )
    return result.scalar_one_or_none() is not None


async def queue_position(db: Database, generation_id: str) -> int:
    """1 + the generation jobs queued before this one and not yet picked; 0 when it is no
    longer waiting."""
    async with db.read() as session:
        position = await session.scalar(
            text(
                """
                SELECT CASE WHEN q.status = 'queued' THEN (
                    SELECT count(*) + 1 FROM pgqueuer o
                    WHERE o.entrypoint = :ep AND o.status = 'queued' AND o.id < q.id
                ) ELSE 0 END
                FROM generation_jobs j JOIN pgqueuer q ON q.id = j.queue_job_id
                WHERE j.generation_id = :id
                """
            ),
            {"id": generation_id, "ep": ENTRYPOINT},
        )
    return int(position or 0)


@dataclass(frozen=True)
class QueueStats:
    """What the queue holds now."""

    depth: int
    """Generation jobs waiting for a worker."""
    running: int
    """Picked by a worker."""
    oldest_seconds: float
    """How long the oldest waiting one has waited."""


async def queue_stats(db: Database) -> QueueStats:
    """Depth, running and the oldest wait of the generation queue."""
    async with db.read() as session:
        row = (
            await session.execute(
                text(
                    """
                    SELECT count(*) FILTER (WHERE status = 'queued') AS depth,
                           count(*) FILTER (WHERE status = 'picked') AS running,
                           coalesce(extract(epoch FROM now() - min(created)
                               FILTER (WHERE status = 'queued')), 0) AS oldest
                    FROM pgqueuer WHERE entrypoint = :ep
                    """
                ),
                {"ep": ENTRYPOINT},
            )
        ).one()
    return QueueStats(int(row.depth), int(row.running), float(row.oldest))


@dataclass(frozen=True)
class Delivered:
    """What a worker posts for a generation whose accepting flow is gone."""

    status: str
    error: str | None
    character_id: str | None
    image_key: str | None
    character: Character | None = None
    """The character, when the image is its new portrait (a create or a regenerate)."""


async def delivery_facts(db: Database, generation_id: str) -> Delivered | None:
    """The generation's outcome and the key of the image it made (a portrait, a variant or a
    scene image), for its post."""
    async with db.read() as session:
        row = (
            await session.execute(
                text(
                    """
                    SELECT g.status, g.error_message, g.character_id,
                        coalesce(
                            (SELECT v.metadata->>:image FROM theme_variants v
                             WHERE v.metadata->>:gen = g.id LIMIT 1),
                            (SELECT s.metadata->>:image FROM scene_generations s
                             WHERE s.generation_id = g.id LIMIT 1),
                            (SELECT c.metadata->>:image FROM characters c
                             WHERE c.id = g.character_id AND c.metadata->>:gen = g.id)
                        ) AS image_key
                    FROM generations g WHERE g.id = :id
                    """
                ),
                {"id": generation_id, "image": IMAGE_KEY, "gen": GENERATION_ID},
            )
        ).one_or_none()
        if row is None:
            return None
        character = None
        if row.character_id is not None and row.status == "completed":
            found = await session.get(Character, row.character_id)
            if found is not None and (found.meta or {}).get(GENERATION_ID) == generation_id:
                character = found
    return Delivered(str(row.status), row.error_message, row.character_id, row.image_key, character)
