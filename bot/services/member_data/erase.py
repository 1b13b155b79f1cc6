"""Erasing a member (``/account delete``): every row of theirs in one transaction, then their
stored objects and showcase posts once it is committed.

The rows: the ``users`` row goes, and the schema's cascades take everything that hangs from it
(profile, characters with their themes, variants, showcase posts and collection entries,
generations, collections with their items, notices, and any later table whose key cascades).
A key into their rows that would block the delete (no action/restrict) has its rows deleted
first, children first, so a table added later cannot make erasure fail. Rows of others that
only *refer* to them keep existing with the reference set to null where the schema says so (the
moderation log: ``moderator_user_id``/``target_user_id``), and their Discord id is taken out of
others' metadata (the credit of a variant they suggested, their waiting suggestions).

The stored objects: the keys their rows name, and the folder of each of their characters and
scenes (``characters/<id>/``, ``scenes/<id>/``, which also hold objects no row names any more),
are written to ``storage_deletions`` in that same transaction. After the commit they are
deleted and their rows removed; a failure leaves the row (attempts, last error) for the
periodic sweep, which retries until storage confirms, so no object outlives its rows for
longer than storage stays unreachable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ConflictError, NotFoundError, StorageError
from bot.services import carryover
from bot.services.accounts import discord_id_in
from bot.services.member_data.collect import folders_of, read_member_rows, stored_keys
from bot.services.member_data.plan import MemberPlan, member_plan
from bot.services.showcase import PostedMessage
from bot.storage.base import ListingStorage, PruningStorage, Storage
from db.account_models import StorageDeletion
from db.bot_models import ShowcasePost
from db.engine import Database
from db.meta import SUGGESTED_BY, SUGGESTIONS
from db.models import Generation, User

log = logging.getLogger(__name__)

SWEEP_BATCH = 200
# ``metadata`` keys (db/meta.py) naming, by Discord id, who suggested an edit in someone
# else's conversation: a variant's credit, and each of a character's waiting suggestions
_UNCREDIT = (
    "UPDATE {table} SET metadata = metadata - '" + SUGGESTED_BY + "' "
    "WHERE metadata ->> '" + SUGGESTED_BY + "' = :did"
)
_DROP_SUGGESTIONS = text(
    "UPDATE characters SET metadata = jsonb_set(metadata, '{" + SUGGESTIONS + "}', coalesce(("
    "  SELECT jsonb_agg(e) FROM jsonb_array_elements(metadata -> '" + SUGGESTIONS + "') AS e"
    "  WHERE e ->> '" + SUGGESTED_BY + "' IS DISTINCT FROM :did), '[]'::jsonb)) "
    "WHERE jsonb_typeof(metadata -> '" + SUGGESTIONS + "') = 'array' "
    "AND metadata -> '"
    + SUGGESTIONS
    + "' @> jsonb_build_array(jsonb_build_object('"
    + SUGGESTED_BY
    + "', CAST(:did AS text)))"
)


class ErasureBusyError(ConflictError):
    """A generation of the member is still running: erasing now would race with its upload."""

    def __init__(self) -> None:
        super().__init__(
            "A generation of yours is still running. Wait for it to finish, then try again.",
            reason_key="account.delete_busy",
        )


@dataclass(frozen=True)
class Erasure:
    """What was erased, and what is left to remove outside the database."""

    user_id: str
    rows: dict[str, int]
    """Rows of the member per table before the delete: all gone, but for rows that only refer
    to them through a key that sets null (a moderation record naming them stays, unlinked)."""
    showcase_posts: tuple[PostedMessage, ...]
    storage_entries: tuple[str, ...]
    """The ``storage_deletions`` keys written (objects and character folders)."""

    @property
    def characters(self) -> int:
        """How many characters went."""
        return self.rows.get("characters", 0)

    @property
    def variants(self) -> int:
        """How many variants went."""
        return self.rows.get("theme_variants", 0)


async def _counts(session: AsyncSession, plan: MemberPlan, user_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in plan.tables:
        found = await session.scalar(text(plan.count_rows(table)), {"uid": user_id})
        counts[table] = int(found or 0)
    return counts


async def _delete_blocking(session: AsyncSession, plan: MemberPlan, user_id: str) -> None:
    """Delete the rows whose keys would stop the users row's delete (none in today's schema;
    deepest tables first)."""
    order = {table: i for i, table in enumerate(plan.tables)}
    for fk in sorted(plan.blocking_keys(), key=lambda fk: -order.get(fk.table, len(order))):
        await session.execute(text(plan.delete_referencing(fk)), {"uid": user_id})


async def queue_storage_deletions(
    session: AsyncSession, keys: list[str], prefixes: list[str]
) -> tuple[str, ...]:
    """Record objects (and folders) to delete once the transaction is committed."""
    entries = [{"key": k, "is_prefix": False} for k in keys]
    entries += [{"key": p, "is_prefix": True} for p in prefixes]
    if entries:
        await session.execute(insert(StorageDeletion).values(entries).on_conflict_do_nothing())
    return (*keys, *prefixes)


async def scrub_identity(session: AsyncSession, discord_id: int) -> None:
    """Take the member's Discord id out of other members' rows: the credit of variants they
    suggested (the variant stays its owner's) and their suggestions still waiting."""
    did = str(int(discord_id))
    for table in ("theme_variants", "characters"):
        await session.execute(text(_UNCREDIT.format(table=table)), {"did": did})
    await session.execute(_DROP_SUGGESTIONS, {"did": did})


async def erase_rows(session: AsyncSession, user_id: str) -> Erasure:
    """Delete every row of the member (see the module).

    Raises: NotFoundError("user"), ErasureBusyError ("account.delete_busy").
    """
    user = await session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise NotFoundError("user")
    running = await session.scalar(
        select(Generation.id)
        .where(Generation.user_id == user_id)
        .where(Generation.status.in_(("pending", "processing")))
        .limit(1)
    )
    if running is not None:
        raise ErasureBusyError()
    plan = await member_plan(session)
    counts = await _counts(session, plan, user_id)
    identity = discord_id_in(user.auth0_id)
    tables = await read_member_rows(session, plan, user_id, identity or 0)
    characters = [str(row["id"]) for row in tables.get("characters", [])]
    posts = (
        await session.execute(
            select(ShowcasePost.channel_id, ShowcasePost.message_id).where(
                ShowcasePost.character_id.in_(characters)
            )
        )
    ).all()
    entries = await queue_storage_deletions(session, stored_keys(tables), folders_of(tables))
    await carryover.remember(session, user)
    if identity is not None:
        await scrub_identity(session, identity)
    await _delete_blocking(session, plan, user_id)
    await session.execute(delete(User).where(User.id == user_id))
    return Erasure(
        user_id=user_id,
        rows=counts,
        showcase_posts=tuple(PostedMessage(int(c), int(m)) for c, m in posts),
        storage_entries=entries,
    )


async def erase_member(db: Database, user_id: str) -> Erasure:
    """Erase the member's rows in one transaction (their stored objects are queued).

    Raises: NotFoundError("user"), ErasureBusyError.
    """
    async with db.transaction() as session:
        return await erase_rows(session, user_id)


async def _delete_entry(storage: Storage, key: str, is_prefix: bool) -> None:
    if not is_prefix:
        await storage.delete(key)
        return
    if isinstance(storage, ListingStorage):
        for stored in await storage.list_keys(key):
            await storage.delete(stored)
    if isinstance(storage, PruningStorage):
        await storage.prune(key)


async def purge_storage(
    db: Database, storage: Storage, keys: tuple[str, ...] | None = None
) -> tuple[int, int]:
    """Delete queued objects (``keys``, or every queued one up to a batch); each confirmed
    deletion removes its queue row, a failure records the attempt. Returns (done, failed)."""
    async with db.read() as session:
        query = select(StorageDeletion).order_by(StorageDeletion.created_at)
        if keys is not None:
            query = query.where(StorageDeletion.key.in_(keys))
        pending = list((await session.scalars(query.limit(SWEEP_BATCH))).all())
    done = failed = 0
    for entry in pending:
        try:
            await _delete_entry(storage, entry.key, entry.is_prefix)
        except StorageError as exc:  # log, keep the row, retry later
            failed += 1
            reason = exc.detail or str(exc)
            log.warning("could not delete stored object(s) %s: %s", entry.key, reason)
            async with db.transaction() as session:
                await session.execute(
                    update(StorageDeletion)
                    .where(StorageDeletion.key == entry.key)
                    .values(attempts=StorageDeletion.attempts + 1, last_error=reason[:500])
                )
            continue
        done += 1
        async with db.transaction() as session:
            await session.execute(delete(StorageDeletion).where(StorageDeletion.key == entry.key))
    return done, failed


async def pending_storage_deletions(db: Database) -> int:
    """How many objects (or folders) still wait to be deleted."""
    async with db.read() as session:
        return len((await session.scalars(select(StorageDeletion.key))).all())


async def sweep_leftovers(db: Database, storage: Storage) -> tuple[int, int]:
    """The periodic sweep: retry queued storage deletions, drop expired quota carryovers."""
    result = await purge_storage(db, storage)
    async with db.transaction() as session:
        await carryover.forget_expired(session)
    return result
