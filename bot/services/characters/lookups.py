"""Characters, read: id and text checks shared by the services, lookup with ownership and
visibility, the member's list, autocomplete, and the character behind a thread.

Only ``completed`` characters appear in listings and autocomplete (a create in flight has a
``pending`` row). A character is *publicly visible* when it is public and completed and its
owner allows gallery showcase and is active (``bot.services.visibility``, the rule's one home).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    ColumnClause,
    ColumnElement,
    Select,
    Text,
    bindparam,
    case,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInputError, NotFoundError, NotOwnerError
from bot.services.pagination import (
    Page,
    apply_keyset,
    clamp_limit,
    escape_like,
    keyset_page,
    parse_cursor,
)
from bot.services.visibility import is_completed, publicly_visible
from db.meta import CONVERSATION_ID, Meta
from db.models import Character

CharacterFilter = Literal["all", "favorites", "library"]

MAX_NAME = 100
MAX_DESCRIPTION = 2000
MAX_ATTRIBUTE = 1000
AUTOCOMPLETE_MAX = 25

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# ``metadata ->> 'conversationId'`` and ``metadata ? 'conversationId'`` with the key as a literal
# (not a bound parameter), so that the partial expression index idx_characters_conversation_id
# (migration 0002) matches even under a generic prepared plan.
_CONVERSATION_KEY: ColumnClause[str] = literal_column(f"'{CONVERSATION_ID}'", Text)
conversation_id = Character.meta.op("->>", return_type=Text)(_CONVERSATION_KEY)
has_conversation = Character.meta.op("?", return_type=Boolean)(_CONVERSATION_KEY)


# --- shared helpers -------------------------------------------------------------------------


def is_valid_id(value: object) -> bool:
    """Whether ``value`` looks like a row id (UUID/cuid-shaped), so a typed-in name or garbage
    never reaches the database."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def clean_text(
    value: str | None, *, field: str, label: str, max_length: int, required: bool = False
) -> str | None:
    """``value`` stripped; empty becomes None.

    Raises: InvalidInputError (``invalid.<field>_empty`` / ``invalid.<field>_too_long``).
    """
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInputError(
                f"The {label} can't be empty.", reason_key=f"invalid.{field}_empty", field=field
            )
        return None
    if len(text) > max_length:
        raise InvalidInputError(
            f"The {label} can be at most {max_length} characters (it has {len(text)}).",
            reason_key=f"invalid.{field}_too_long",
            field=field,
            max=max_length,
            length=len(text),
        )
    return text


def storage_keys(meta: dict[str, Any] | None) -> list[str]:
    """The storage keys recorded in a row's ``metadata`` (image, thumbnail, reference)."""
    return Meta(meta).storage_keys


def name_patterns(query: str) -> dict[str, str]:
    """The LIKE patterns of a case-insensitive name search for ``query``: ``contains`` (the
    filter) and ``prefix`` (ranked first)."""
    escaped = escape_like(query)
    return {"contains": f"%{escaped}%", "prefix": f"{escaped}%"}


def name_rank(column: Any, query: str | None) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """The (substring filter, prefix-first rank) pair of a case-insensitive name search.
    ``query`` None: the patterns are parameters ``contains`` and ``prefix``, bound at execution
    (:func:`name_patterns`), for a statement built once."""
    if query is None:
        contains: Any = bindparam("contains")
        prefix: Any = bindparam("prefix")
    else:
        patterns = name_patterns(query)
        contains, prefix = patterns["contains"], patterns["prefix"]
    matches = column.ilike(contains, escape="\\")
    rank = case((column.ilike(prefix, escape="\\"), 0), else_=1)
    return matches, rank


# --- lookups --------------------------------------------------------------------------------


async def get_character(session: AsyncSession, character_id: str) -> Character:
    """The character with this id, whoever owns it.

    Raises: NotFoundError("character").
    """
    if not is_valid_id(character_id):
        raise NotFoundError("character")
    character = await session.scalar(
        select(Character)
        .where(Character.id == character_id)
        .execution_options(populate_existing=True)
    )
    if character is None:
        raise NotFoundError("character")
    return character


async def get_owned_character(session: AsyncSession, character_id: str, user_id: str) -> Character:
    """The character, provided ``user_id`` owns it.

    Raises: NotFoundError("character"), NotOwnerError.
    """
    character = await get_character(session, character_id)
    if character.user_id != user_id:
        raise NotOwnerError()
    return character


async def get_visible_character(
    session: AsyncSession, character_id: str, viewer_user_id: str
) -> Character:
    """The character as ``viewer_user_id`` may see it: their own (any status), or a publicly
    visible one.

    Raises: NotFoundError("character") (also when it exists but is hidden from the viewer).
    """
    if not is_valid_id(character_id):
        raise NotFoundError("character")
    character = await session.scalar(
        select(Character)
        .where(
            Character.id == character_id,
            or_(Character.user_id == viewer_user_id, publicly_visible()),
        )
        .execution_options(populate_existing=True)
    )
    if character is None:
        raise NotFoundError("character")
    return character


async def list_characters(
    session: AsyncSession,
    user_id: str,
    *,
    filter: CharacterFilter = "all",
    cursor: str | None = None,
    limit: int = 10,
) -> Page[Character]:
    """The caller's completed characters, newest first, one keyset page at a time.

    Raises: InvalidInputError (bad cursor or filter).
    """
    limit = clamp_limit(limit)
    parsed = parse_cursor(cursor) if cursor else None
    stmt = select(Character).where(Character.user_id == user_id, is_completed)
    if filter == "favorites":
        stmt = stmt.where(Character.is_favorite.is_(True))
    elif filter == "library":
        stmt = stmt.where(Character.is_in_library.is_(True))
    elif filter != "all":
        raise InvalidInputError(
            "Choose all, favorites or library.", reason_key="invalid.filter", value=str(filter)
        )
    stmt = apply_keyset(
        stmt, Character.created_at, Character.id, cursor=parsed, limit=limit, order="desc"
    )
    rows = (await session.scalars(stmt)).all()
    return keyset_page(rows, limit=limit, cursor=parsed, key=lambda c: (c.created_at, c.id))


AUTOCOMPLETE_SCAN = 1000
"""Autocomplete looks through a member's newest 1,000 characters: a keystroke stays ~2 ms
whatever the collection's size (bench/queries: a member with 10,000 took 15 ms per keystroke
when every name was searched). Older ones are still reachable through /character list."""


@functools.cache
def _autocomplete_statements(limit: int) -> tuple[Select[Any, Any], Select[Any, Any]]:
    """The autocomplete's two statements for this limit (the most recent; those matching), built
    once: a keystroke binds the member and the patterns instead of building and hashing a new
    statement each time."""
    newest = (Character.created_at.desc(), Character.id.desc())
    member = Character.user_id == bindparam("user_id")
    most_recent = (
        select(Character.id, Character.name).where(member, is_completed).order_by(*newest)
    ).limit(limit)
    recent = (
        select(Character.id, Character.name, Character.created_at)
        .where(member, is_completed)
        .order_by(*newest)
        .limit(AUTOCOMPLETE_SCAN)
        .subquery()
    )
    matches, rank = name_rank(recent.c.name, None)
    matching = (
        select(recent.c.id, recent.c.name)
        .where(matches)
        .order_by(rank, recent.c.created_at.desc(), recent.c.id.desc())
        .limit(limit)
    )
    return most_recent, matching


async def autocomplete_characters(
    session: AsyncSession, user_id: str, query: str, limit: int = AUTOCOMPLETE_MAX
) -> list[tuple[str, str]]:
    """``(id, name)`` of the caller's completed characters matching ``query`` (prefix matches
    first, then substring, case-insensitive), most recent first, among their newest 1,000;
    an empty query gives the most recent."""
    most_recent, matching = _autocomplete_statements(clamp_limit(limit, AUTOCOMPLETE_MAX))
    query = (query or "").strip()
    if not query:
        rows = (await session.execute(most_recent, {"user_id": user_id})).all()
    else:
        values = {"user_id": user_id, **name_patterns(query)}
        rows = (await session.execute(matching, values)).all()
    return [(row.id, row.name or f"Untitled {row.id[:8]}") for row in rows]


def thread_lookup(thread_id: int) -> Select[Character]:
    """The statement :func:`find_character_by_thread` runs (the index's predicate repeated).

    No ORDER BY/LIMIT: with them the planner may walk the created_at index instead of the
    conversation index; the (normally single) match is picked in Python.
    """
    return select(Character).where(has_conversation, conversation_id == str(thread_id))


async def find_character_by_thread(session: AsyncSession, thread_id: int) -> Character | None:
    """The character whose conversation is the thread ``thread_id`` (the newest, should two
    claim it), or None. Served by the partial expression index idx_characters_conversation_id.
    """
    matches = (
        await session.scalars(thread_lookup(thread_id).execution_options(populate_existing=True))
    ).all()
    return max(matches, key=lambda c: (c.created_at, c.id), default=None)
