"""Collections: a member's named lists of characters (their own or publicly visible ones).

The schema has no unique constraint on a member's collection names, so creation takes a
transaction-scoped advisory lock per member before checking for a duplicate: two concurrent
creates of the same name serialise and the second sees the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ConflictError, NotFoundError, NotOwnerError
from bot.services.characters import (
    AUTOCOMPLETE_MAX,
    clean_text,
    is_valid_id,
    name_rank,
)
from bot.services.deleting import delete_loaded
from bot.services.pagination import clamp_limit
from bot.services.visibility import visible_to
from db.engine import Database
from db.models import Character, CharacterCollection, CharacterCollectionItem

MAX_COLLECTION_NAME = 50
MAX_COLLECTION_DESCRIPTION = 200
SHOW_LIMIT = 50


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    """A collection as listed, with how many characters it holds."""

    id: str
    name: str
    description: str | None
    is_public: bool
    item_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CollectionView:
    """A collection as a viewer sees it: the characters visible to them, in the order added.

    ``total_visible`` counts every visible character even when ``characters`` is cut to the
    ``limit``; ``hidden_count`` is how many entries the viewer may no longer see.
    """

    collection: CharacterCollection
    characters: list[Character]
    total_visible: int
    hidden_count: int


def _collection_name(name: str) -> str:
    cleaned = clean_text(
        name,
        field="collection_name",
        label="collection name",
        max_length=MAX_COLLECTION_NAME,
        required=True,
    )
    assert cleaned is not None
    return cleaned


async def _lock_member_collections(session: AsyncSession, user_id: str) -> None:
    """Serialise collection creation per member until the transaction ends."""
    key = func.hashtextextended(f"charbot:collections:{user_id}", 0)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def get_owned_collection(
    session: AsyncSession, collection_id: str, user_id: str
) -> CharacterCollection:
    """The caller's collection.

    Raises: NotFoundError("collection"), NotOwnerError.
    """
    if not is_valid_id(collection_id):
        raise NotFoundError("collection")
    collection = await session.scalar(
        select(CharacterCollection)
        .where(CharacterCollection.id == collection_id)
        .execution_options(populate_existing=True)
    )
    if collection is None:
        raise NotFoundError("collection")
    if collection.user_id != user_id:
        raise NotOwnerError()
    return collection


async def create_collection(
    session: AsyncSession,
    user_id: str,
    name: str,
    description: str | None = None,
    is_public: bool = False,
) -> CharacterCollection:
    """A new collection of the caller's.

    Raises: InvalidInputError (name 1..50, description ≤ 200), ConflictError
    ("conflict.collection_exists", case-insensitive).
    """
    clean_name = _collection_name(name)
    clean_description = clean_text(
        description,
        field="collection_description",
        label="collection description",
        max_length=MAX_COLLECTION_DESCRIPTION,
    )
    await _lock_member_collections(session, user_id)
    clash = await session.scalar(
        select(CharacterCollection.id).where(
            CharacterCollection.user_id == user_id,
            func.lower(CharacterCollection.name) == clean_name.lower(),
        )
    )
    if clash is not None:
        raise ConflictError(
            f'You already have a collection called "{clean_name}".',
            reason_key="conflict.collection_exists",
            name=clean_name,
        )
    collection = CharacterCollection(
        user_id=user_id, name=clean_name, description=clean_description, is_public=is_public
    )
    session.add(collection)
    await session.flush()
    await session.refresh(collection)
    return collection


async def add_to_collection(
    session: AsyncSession, collection_id: str, character_id: str, user_id: str
) -> CharacterCollectionItem:
    """Put a character (the caller's own or a publicly visible one) in the caller's collection.

    Raises: NotFoundError("collection" / "character"), NotOwnerError, ConflictError
    ("conflict.already_in_collection").
    """
    collection = await get_owned_collection(session, collection_id, user_id)
    if not is_valid_id(character_id):
        raise NotFoundError("character")
    character_ok = await session.scalar(
        select(Character.id).where(Character.id == character_id, visible_to(user_id))
    )
    if character_ok is None:
        raise NotFoundError("character")
    already = ConflictError(
        "That character is already in this collection.",
        reason_key="conflict.already_in_collection",
    )
    present = await session.scalar(
        select(CharacterCollectionItem.id).where(
            CharacterCollectionItem.collection_id == collection.id,
            CharacterCollectionItem.character_id == character_id,
        )
    )
    if present is not None:
        raise already
    item = CharacterCollectionItem(collection_id=collection.id, character_id=character_id)
    try:
        async with session.begin_nested():
            session.add(item)
            await session.flush()
    except IntegrityError as exc:  # added concurrently
        raise already from exc
    collection.updated_at = func.now()
    await session.flush()
    await session.refresh(item)
    return item


async def remove_from_collection(
    session: AsyncSession, collection_id: str, character_id: str, user_id: str
) -> None:
    """Take a character out of the caller's collection.

    Raises: NotFoundError("collection" / "character": not in it), NotOwnerError.
    """
    collection = await get_owned_collection(session, collection_id, user_id)
    if not is_valid_id(character_id):
        raise NotFoundError("character")
    item = await session.scalar(
        select(CharacterCollectionItem).where(
            CharacterCollectionItem.collection_id == collection.id,
            CharacterCollectionItem.character_id == character_id,
        )
    )
    if item is None:
        raise NotFoundError("character")
    await delete_loaded(session, item, "character")
    collection.updated_at = func.now()
    await session.flush()


async def show_collection(
    session: AsyncSession, collection_id: str, viewer_user_id: str, *, limit: int = SHOW_LIMIT
) -> CollectionView:
    """The collection for its owner, or anyone when it is public, listing only the characters
    the viewer may see (their own completed ones, and publicly visible ones).

    Raises: NotFoundError("collection") (also for another member's private collection).
    """
    if not is_valid_id(collection_id):
        raise NotFoundError("collection")
    collection = await session.scalar(
        select(CharacterCollection).where(CharacterCollection.id == collection_id)
    )
    if collection is None or (collection.user_id != viewer_user_id and not collection.is_public):
        raise NotFoundError("collection")
    entries = (
        select(Character)
        .join(CharacterCollectionItem, CharacterCollectionItem.character_id == Character.id)
        .where(CharacterCollectionItem.collection_id == collection.id)
    )
    visible = entries.where(visible_to(viewer_user_id))
    characters = list(
        await session.scalars(
            visible.order_by(CharacterCollectionItem.added_at, CharacterCollectionItem.id).limit(
                clamp_limit(limit, SHOW_LIMIT)
            )
        )
    )
    total_visible = await session.scalar(select(func.count()).select_from(visible.subquery()))
    total = await session.scalar(select(func.count()).select_from(entries.subquery()))
    return CollectionView(
        collection=collection,
        characters=characters,
        total_visible=int(total_visible or 0),
        hidden_count=int(total or 0) - int(total_visible or 0),
    )


async def list_collections(session: AsyncSession, user_id: str) -> list[CollectionSummary]:
    """The caller's collections, newest first, with their sizes."""
    count = (
        select(func.count(CharacterCollectionItem.id))
        .where(CharacterCollectionItem.collection_id == CharacterCollection.id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(CharacterCollection, count.label("item_count"))
        .where(CharacterCollection.user_id == user_id)
        .order_by(CharacterCollection.created_at.desc(), CharacterCollection.id.desc())
    )
    return [
        CollectionSummary(
            id=c.id,
            name=c.name,
            description=c.description,
            is_public=bool(c.is_public),
            item_count=int(n),
            created_at=c.created_at,
        )
        for c, n in rows
    ]


async def delete_collection(session: AsyncSession, collection_id: str, user_id: str) -> None:
    """Delete the caller's collection (its entries go by cascade; the characters stay).

    Raises: NotFoundError("collection"), NotOwnerError.
    """
    collection = await get_owned_collection(session, collection_id, user_id)
    await delete_loaded(session, collection, "collection")


async def autocomplete_collections(
    session: AsyncSession, user_id: str, query: str, limit: int = AUTOCOMPLETE_MAX
) -> list[tuple[str, str]]:
    """``(id, name)`` of the caller's collections matching ``query`` (prefix first), newest
    first."""
    limit = clamp_limit(limit, AUTOCOMPLETE_MAX)
    stmt = select(CharacterCollection.id, CharacterCollection.name).where(
        CharacterCollection.user_id == user_id
    )
    order: list[Any] = []
    query = (query or "").strip()
    if query:
        matches, rank = name_rank(CharacterCollection.name, query)
        stmt = stmt.where(matches)
        order.append(rank)
    order += [CharacterCollection.created_at.desc(), CharacterCollection.id.desc()]
    rows = (await session.execute(stmt.order_by(*order).limit(limit))).all()
    return [(r.id, r.name) for r in rows]


# --- use cases: each opens its own unit of work ---------------------------------------------


async def collection_choices(db: Database, user_id: str, query: str) -> list[tuple[str, str]]:
    """The member's collections matching ``query``: (id, name)."""
    async with db.read() as session:
        return await autocomplete_collections(session, user_id, query)


async def new_collection(
    db: Database, user_id: str, name: str, description: str | None, is_public: bool
) -> CharacterCollection:
    """A new collection of the member's (see :func:`create_collection`)."""
    async with db.transaction() as session:
        return await create_collection(session, user_id, name, description, is_public)


async def put_in_collection(
    db: Database, collection_id: str, character_id: str, user_id: str
) -> CharacterCollection:
    """Add a character to the member's collection; return the collection (see
    :func:`add_to_collection`)."""
    async with db.transaction() as session:
        await add_to_collection(session, collection_id, character_id, user_id)
        return await get_owned_collection(session, collection_id, user_id)


async def take_from_collection(
    db: Database, collection_id: str, character_id: str, user_id: str
) -> CharacterCollection:
    """Take a character out of the member's collection; return the collection (see
    :func:`remove_from_collection`)."""
    async with db.transaction() as session:
        await remove_from_collection(session, collection_id, character_id, user_id)
        return await get_owned_collection(session, collection_id, user_id)


async def collection_for(db: Database, collection_id: str, viewer_user_id: str) -> CollectionView:
    """The collection as the viewer sees it (see :func:`show_collection`)."""
    async with db.read() as session:
        return await show_collection(session, collection_id, viewer_user_id)


async def member_collections(db: Database, user_id: str) -> list[CollectionSummary]:
    """The member's collections, newest first, with their sizes."""
    async with db.read() as session:
        return await list_collections(session, user_id)


async def remove_collection(db: Database, collection_id: str, user_id: str) -> str:
    """Delete the member's collection; return its name (see :func:`delete_collection`)."""
    async with db.transaction() as session:
        collection = await get_owned_collection(session, collection_id, user_id)
        name = collection.name
        await delete_collection(session, collection_id, user_id)
    return name
