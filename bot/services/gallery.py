"""The public gallery: published characters of members who showcase them, and per-member pages.

A character is in the gallery when it is public and completed and its owner allows gallery
showcase and is active. ``profile_visibility`` governs a member's own gallery page
(:func:`user_gallery`): ``public`` lets anyone see it; ``friends`` and ``private`` let only the
member see it, because the bot has no friends graph to check "friends" against (treating it as
private is the safe reading). Inside a guild, neither shows a character that guild's moderators
hid there (:func:`bot.services.visibility.shown_in_guild`).

The use cases (:func:`browse_page`, :func:`user_gallery_page`) take a
:class:`~db.engine.Database` and read on their own; :func:`browse` and :func:`user_gallery` are
their session-taking steps.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInputError, NotFoundError
from bot.services.accounts import public_name
from bot.services.characters import is_valid_id
from bot.services.pagination import (
    Cursor,
    Order,
    Page,
    apply_keyset,
    clamp_limit,
    keyset_page,
    parse_cursor,
)
from bot.services.visibility import published, showcased_join, shown_in_guild
from db.engine import Database
from db.models import STYLES, Character, User

_EntrySelect = Select[Character, str, str | None, str | None, str | None]
GallerySort = Literal["newest", "oldest"]
MAX_TAG = 50


@dataclass(frozen=True, slots=True)
class BrowseFilters:
    """What /gallery browse was asked for: an art style, a tag, and the order (``newest`` or
    ``oldest``; anything else is refused by :func:`browse`)."""

    style: str | None = None
    tag: str | None = None
    sort: str = "newest"


@dataclass(frozen=True, slots=True)
class GalleryEntry:
    """A gallery character with its creator's names, for the card's byline."""

    character: Character
    creator_id: str
    creator_display_name: str | None
    creator_username: str | None
    creator_identity: str | None = None
    """The creator's ``auth0_id``: a name holding their Discord id is never printed."""

    @property
    def creator_name(self) -> str:
        """The name to print: display name, else username, else "someone" (a name that holds
        the creator's Discord id is skipped: see :func:`~bot.services.accounts.public_name`)."""
        shown = public_name(self.creator_display_name, self.creator_username, self.creator_identity)
        return shown or "someone"


class ProfilePrivateError(InvalidInputError):
    """The member's gallery is not visible to the viewer (profile not public)."""

    def __init__(self) -> None:
        super().__init__("This member's gallery is private.", reason_key="gallery.profile_private")


def _base() -> _EntrySelect:
    return select(Character, User.id, User.display_name, User.username, User.auth0_id).join(
        User, User.id == Character.user_id
    )


def _tag_filter(tag: str) -> ColumnElement[bool] | None:
    """``tags @> ARRAY[tag]`` (served by the GIN index), also trying the lower-cased tag."""
    cleaned = tag.strip().lstrip("#").strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_TAG:
        raise InvalidInputError(
            f"A tag can be at most {MAX_TAG} characters.",
            reason_key="invalid.tag_too_long",
            max=MAX_TAG,
            length=len(cleaned),
        )
    if cleaned.lower() == cleaned:
        return Character.tags.contains([cleaned])
    return or_(Character.tags.contains([cleaned]), Character.tags.contains([cleaned.lower()]))


async def _page(
    session: AsyncSession,
    stmt: _EntrySelect,
    *,
    cursor: str | None,
    limit: int,
    sort: GallerySort,
) -> Page[GalleryEntry]:
    limit = clamp_limit(limit)
    parsed = parse_cursor(cursor) if cursor else None
    stmt = _paged(stmt, parsed, limit, sort)
    return _entries((await session.execute(stmt)).all(), parsed, limit)


def _paged(
    stmt: _EntrySelect, parsed: Cursor | None, limit: int, sort: GallerySort
) -> _EntrySelect:
    """``stmt``'s page after ``parsed`` (None: the first) in ``sort`` order."""
    order: Order = "desc" if sort == "newest" else "asc"
    return apply_keyset(
        stmt, Character.created_at, Character.id, cursor=parsed, limit=limit, order=order
    )


def _entries(rows: Sequence[Any], parsed: Cursor | None, limit: int) -> Page[GalleryEntry]:
    page = keyset_page(rows, limit=limit, cursor=parsed, key=lambda r: (r[0].created_at, r[0].id))
    return Page(
        items=[
            GalleryEntry(
                character=r[0],
                creator_id=r[1],
                creator_display_name=r[2],
                creator_username=r[3],
                creator_identity=r[4],
            )
            for r in page.items
        ],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@functools.cache
def _first_page(in_guild: bool, sort: GallerySort, limit: int) -> _EntrySelect:
    """The first page of the whole gallery (in a guild: its id bound as ``guild``), built once
    per sort and limit."""
    stmt = _base().where(
        *showcased_join(), shown_in_guild(bindparam("guild") if in_guild else None)
    )
    return _paged(stmt, None, limit, sort)


async def browse(
    session: AsyncSession,
    *,
    style: str | None = None,
    tag: str | None = None,
    sort: str = "newest",
    cursor: str | None = None,
    limit: int = 5,
    guild_id: int | None = None,
) -> Page[GalleryEntry]:
    """One keyset page of the public gallery, optionally of one style and/or tag, as shown in
    ``guild_id`` (None: outside any guild).

    Raises: InvalidInputError (unknown style or sort, tag too long, bad cursor).
    """
    if sort not in ("newest", "oldest"):
        raise InvalidInputError(
            "Sort by newest or oldest.", reason_key="invalid.sort", value=str(sort)
        )
    order: GallerySort = "oldest" if sort == "oldest" else "newest"
    if style and style not in STYLES:
        raise InvalidInputError(
            f"Unknown style. Choose one of: {', '.join(STYLES)}.",
            reason_key="invalid.style",
            value=style,
        )
    tagged = _tag_filter(tag) if tag else None
    if not style and tagged is None and not cursor:
        # the first page of the whole gallery, the usual one: its statement is built once
        limit = clamp_limit(limit)
        first = _first_page(guild_id is not None, order, limit)
        values = {} if guild_id is None else {"guild": guild_id}
        return _entries((await session.execute(first, values)).all(), None, limit)
    stmt = _base().where(*showcased_join(), shown_in_guild(guild_id))
    if style:
        stmt = stmt.where(Character.style_type == style)
    if tagged is not None:
        stmt = stmt.where(tagged)
    return await _page(session, stmt, cursor=cursor, limit=limit, sort=order)


async def browse_page(
    db: Database,
    filters: BrowseFilters,
    cursor: str | None,
    limit: int,
    *,
    guild_id: int | None = None,
) -> Page[GalleryEntry]:
    """/gallery browse in ``guild_id``: one page of the public gallery (see :func:`browse`)."""
    async with db.read() as session:
        return await browse(
            session,
            style=filters.style,
            tag=filters.tag,
            sort=filters.sort,
            cursor=cursor,
            limit=limit,
            guild_id=guild_id,
        )


async def user_gallery(
    session: AsyncSession,
    target_user_id: str,
    viewer_user_id: str,
    *,
    cursor: str | None = None,
    limit: int = 5,
    guild_id: int | None = None,
) -> Page[GalleryEntry]:
    """One keyset page (newest first) of a member's published characters, as shown in
    ``guild_id`` (a character its moderators hid is left out, for the member too).

    Others see the member's gallery characters only when the member's profile is public; the
    member themself always sees every character they have published (even while showcase is
    off), so they can check what others would see.

    Raises: NotFoundError("user"), ProfilePrivateError ("gallery.profile_private"),
    InvalidInputError (bad cursor).
    """
    if not is_valid_id(target_user_id):
        raise NotFoundError("user")
    target = (
        await session.execute(
            select(User.id, User.profile_visibility).where(User.id == target_user_id)
        )
    ).first()
    if target is None:
        raise NotFoundError("user")
    stmt = _base().where(Character.user_id == target_user_id, shown_in_guild(guild_id))
    if target_user_id == viewer_user_id:
        stmt = stmt.where(*published())
    else:
        if (target.profile_visibility or "private") != "public":
            raise ProfilePrivateError()
        stmt = stmt.where(*showcased_join())
    return await _page(session, stmt, cursor=cursor, limit=limit, sort="newest")


async def user_gallery_page(
    db: Database,
    target_user_id: str,
    viewer_user_id: str,
    cursor: str | None,
    limit: int,
    *,
    guild_id: int | None = None,
) -> Page[GalleryEntry]:
    """/gallery user in ``guild_id``: one page of a member's published characters (see
    :func:`user_gallery`)."""
    async with db.read() as session:
        return await user_gallery(
            session, target_user_id, viewer_user_id, cursor=cursor, limit=limit, guild_id=guild_id
        )
