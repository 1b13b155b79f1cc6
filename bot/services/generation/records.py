"""Generation rows: pending → processing → completed | failed, and the refund tied to failing.

A unit is given back only by the statement that moves a generation from pending/processing to
failed, so however many paths try to fail the same generation, one refund happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Database
from db.meta import FROM_DISCORD, SOURCE
from db.models import Generation

MAX_ERROR_LENGTH = 1000

# Fails the listed generations that are still open, gives each owner back one unit per failed
# generation (unless their day was reset after the charge), and marks linked characters failed
# unless they already have a finished image (a failed regeneration keeps the old one).
FAIL_SQL = text(
    """
    WITH failed AS (
        UPDATE generations
        SET status = 'failed', error_message = :message, completed_at = now(), updated_at = now()
        WHERE id = ANY(:ids) AND status IN ('pending', 'processing')
        RETURNING id, user_id, character_id, created_at
    ),
    refunds AS (
        SELECT user_id, count(*) AS n, min(created_at) AS charged_at FROM failed GROUP BY user_id
    ),
    refunded AS (
        UPDATE users u
        SET daily_used = greatest(u.daily_used - r.n, 0)
        FROM refunds r
        WHERE u.id = r.user_id AND u.last_reset_date <= r.charged_at
        RETURNING u.id
    ),
    characters_failed AS (
        UPDATE characters c
        SET generation_status = CASE WHEN c.image_url IS NULL THEN 'failed' ELSE 'completed' END,
            updated_at = now()
        FROM failed f
        WHERE c.id = f.character_id AND c.generation_status IN ('pending', 'processing')
        RETURNING c.id
    )
    SELECT f.id, f.user_id, f.character_id,
           EXISTS (SELECT 1 FROM refunded r WHERE r.id = f.user_id) AS refunded
    FROM failed f
    """
)


@dataclass(frozen=True)
class FailedGeneration:
    """A generation this call moved to failed."""

    id: str
    user_id: str
    character_id: str | None
    refunded: bool


async def start_generation(
    session: AsyncSession,
    *,
    user_id: str,
    prompt: str,
    style: str | None,
    character_id: str | None = None,
) -> Generation:
    """Insert a pending generation (the caller has charged the quota in the same transaction)."""
    generation = Generation(
        user_id=user_id,
        character_id=character_id,
        prompt=prompt,
        style_type=style,
        status="pending",
        batch_size=1,
    )
    session.add(generation)
    await session.flush()
    return generation


async def mark_processing(session: AsyncSession, generation_id: str) -> bool:
    """pending → processing (or processing again, taken up after its worker stopped), with
    the linked character, in one statement; False when the row is no longer open."""
    row = (
        await session.execute(
            text(
                "WITH started AS ("
                " UPDATE generations SET status = 'processing', updated_at = now()"
                " WHERE id = :id AND status IN ('pending', 'processing') RETURNING character_id"
                "), linked AS ("
                " UPDATE characters SET generation_status = 'processing', updated_at = now()"
                " WHERE id = (SELECT character_id FROM started)"
                " AND generation_status = 'pending'"
                ") SELECT character_id FROM started"
            ),
            {"id": generation_id},
        )
    ).one_or_none()
    return row is not None


async def complete_generation(
    session: AsyncSession, generation_id: str, *, character_id: str | None = None
) -> bool:
    """processing → completed (with completed_at); False when the row was failed meanwhile."""
    result = await session.execute(
        text(
            """
            UPDATE generations
            SET status = 'completed', completed_at = now(), updated_at = now(),
                character_id = coalesce(:character_id, character_id)
            WHERE id = :id AND status IN ('pending', 'processing')
            RETURNING id
            """
        ),
        {"id": generation_id, "character_id": character_id},
    )
    return result.scalar_one_or_none() is not None


async def generation_status(session: AsyncSession, generation_id: str) -> str | None:
    """The generation's status, or None when there is no such row."""
    result = await session.execute(
        text("SELECT status FROM generations WHERE id = :id"), {"id": generation_id}
    )
    status = result.scalar_one_or_none()
    return str(status) if status is not None else None


async def fail_generations(
    session: AsyncSession, generation_ids: list[str], message: str
) -> list[FailedGeneration]:
    """Fail the open generations among ``generation_ids`` and refund each exactly once."""
    if not generation_ids:
        return []
    rows = await session.execute(
        FAIL_SQL, {"ids": generation_ids, "message": message[:MAX_ERROR_LENGTH]}
    )
    return [
        FailedGeneration(
            id=r.id, user_id=r.user_id, character_id=r.character_id, refunded=r.refunded
        )
        for r in rows
    ]


async def fail_generation(session: AsyncSession, generation_id: str, message: str) -> bool:
    """Fail one generation; True when this call failed it (and refunded its unit)."""
    return bool(await fail_generations(session, [generation_id], message))


async def fail_and_clear(
    session: AsyncSession, generation_ids: list[str], message: str
) -> list[FailedGeneration]:
    """Fail (and refund once) the open generations among ``generation_ids``, and remove the
    half-made characters of those this call failed."""
    failed = await fail_generations(session, generation_ids, message)
    await delete_unfinished_characters(session, [f.character_id for f in failed if f.character_id])
    return failed


async def delete_unfinished_characters(session: AsyncSession, character_ids: list[str]) -> int:
    """Remove characters the bot created for a generation that failed before any image existed,
    so a refused or broken create leaves no half-made character behind."""
    ids = [c for c in character_ids if c]
    if not ids:
        return 0
    result = await session.execute(
        text(
            """
            DELETE FROM characters
            WHERE id = ANY(:ids) AND image_url IS NULL AND generation_status = 'failed'
              AND metadata->>CAST(:source_key AS text) = :from_discord
            """
        ),
        {"ids": ids, "source_key": SOURCE, "from_discord": FROM_DISCORD},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def sweep_stale(db: Database, max_age: timedelta) -> list[FailedGeneration]:
    """Fail and refund every generation left pending/processing for longer than ``max_age``."""
    async with db.transaction() as session:
        ids = (
            (
                await session.execute(
                    text(
                        """
                    SELECT id FROM generations
                    WHERE status IN ('pending', 'processing')
                      AND updated_at < now() - make_interval(secs => :age)
                    ORDER BY updated_at
                    LIMIT 1000
                    FOR UPDATE SKIP LOCKED
                    """
                    ),
                    {"age": max_age.total_seconds()},
                )
            )
            .scalars()
            .all()
        )
        return await fail_and_clear(
            session, list(ids), "The generation was interrupted and did not finish."
        )
