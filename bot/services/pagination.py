"""Keyset pagination over ``(created_at, id)`` and the small helpers every listing shares.

A cursor is an opaque, URL-safe string (``[A-Za-z0-9._~-]``, at most 60 characters for the
platform's UUID ids) that fits in a Discord ``custom_id`` beside a prefix. It names one row's
``(created_at, id)`` and a direction: ``n`` (the page after that row) or ``p`` (the page before
it). Because the page boundary is a row's key rather than an offset, inserting rows while
someone pages never repeats or skips a row of the listing they are walking.

Layout: ``<direction><microseconds since the epoch, base 36>.<id>``; an id that is not already
URL-safe is carried as ``~`` + base64url.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, and_, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from bot.errors import InvalidInputError

T = TypeVar("T")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])

Direction = Literal["next", "prev"]
Order = Literal["desc", "asc"]

MAX_CURSOR_LENGTH = 60
MAX_PAGE_SIZE = 25

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CURSOR = re.compile(r"([np])(-?[0-9a-z]{1,14})\.(~?[A-Za-z0-9_=-]{1,88})")


@dataclass(frozen=True, slots=True)
class Cursor:
    """A decoded cursor: the boundary row's key and which side of it the page lies on."""

    created_at: datetime
    id: str
    direction: Direction = "next"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, in display order, with cursors to its neighbours (None = none)."""

    items: Sequence[T]
    next_cursor: str | None
    prev_cursor: str | None = None

    @property
    def has_previous(self) -> bool:
        """Whether a page comes before this one."""
        return self.prev_cursor is not None

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.next_cursor is not None


def _base36(number: int) -> str:
    if number < 0:
        return "-" + _base36(-number)
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_DIGITS[rest])
        if number == 0:
            return "".join(reversed(digits))


def encode_cursor(created_at: datetime, id: str, direction: Direction = "next") -> str:
    """The opaque cursor of the page after (``next``) or before (``prev``) the row ``id``.

    Raises: ValueError when ``created_at`` is naive (a programming error, not user input).
    """
    if created_at.tzinfo is None:
        raise ValueError("cursor timestamps must be timezone-aware")
    micros = (created_at - _EPOCH) // _MICROSECOND
    if _SAFE_ID.fullmatch(id):
        id_part = id
    else:
        id_part = "~" + base64.urlsafe_b64encode(id.encode()).decode().rstrip("=")
    return f"{'n' if direction == 'next' else 'p'}{_base36(micros)}.{id_part}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(created_at, id)`` a cursor names.

    Raises: InvalidInputError (reason_key "invalid.cursor") when the cursor is not one of ours.
    """
    parsed = parse_cursor(cursor)
    return parsed.created_at, parsed.id


def parse_cursor(cursor: str) -> Cursor:
    """The full cursor: key and direction.

    Raises: InvalidInputError (reason_key "invalid.cursor") when the cursor is not one of ours.
    """
    match = _CURSOR.fullmatch(cursor) if isinstance(cursor, str) else None
    if match is None:
        raise _bad_cursor()
    direction_code, micros_text, id_part = match.groups()
    try:
        created_at = _EPOCH + int(micros_text, 36) * _MICROSECOND
        if id_part.startswith("~"):
            raw = id_part[1:]
            id_ = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        else:
            id_ = id_part
    except (OverflowError, ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if not id_ or "\x00" in id_:
        raise _bad_cursor()
    return Cursor(created_at, id_, "next" if direction_code == "n" else "prev")


def _bad_cursor() -> InvalidInputError:
    return InvalidInputError(
        "That page link is no longer valid. Please run the command again.",
        reason_key="invalid.cursor",
    )


def clamp_limit(limit: int, maximum: int = MAX_PAGE_SIZE) -> int:
    """``limit`` bounded to 1..maximum."""
    return max(1, min(int(limit), maximum))


def escape_like(text: str) -> str:
    r"""``text`` with LIKE wildcards escaped (use with ``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def keyset_page(
    rows: Sequence[T],
    *,
    limit: int,
    cursor: Cursor | None,
    key: Callable[[T], tuple[datetime, str]],
) -> Page[T]:
    """Build a page from ``limit + 1`` rows fetched by :func:`apply_keyset`.

    ``key(row)`` gives the row's ``(created_at, id)``. Rows of a ``prev`` fetch arrive in
    reverse display order and are put back in display order here.
    """
    backwards = cursor is not None and cursor.direction == "prev"
    more = len(rows) > limit
    items = list(rows[:limit])
    if backwards:
        items.reverse()
    if not items:
        return Page(items=items, next_cursor=None, prev_cursor=None)
    first_key = key(items[0])
    last_key = key(items[-1])
    if backwards:
        has_next, has_prev = True, more
    else:
        has_next, has_prev = more, cursor is not None
    return Page(
        items=items,
        next_cursor=encode_cursor(*last_key, "next") if has_next else None,
        prev_cursor=encode_cursor(*first_key, "prev") if has_prev else None,
    )


def apply_keyset(
    stmt: S,
    created_at: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[str],
    *,
    cursor: Cursor | None,
    limit: int,
    order: Order = "desc",
) -> S:
    """``stmt`` restricted to the rows beyond ``cursor``, ordered, limited to ``limit + 1``.

    ``created_at <= :ts`` (or ``>=``) is repeated beside the row comparison so that an index on
    ``created_at`` can bound the scan.
    """
    descending = order == "desc"
    if cursor is not None and cursor.direction == "prev":
        descending = not descending
    if cursor is not None:
        bound: ColumnElement[bool]
        row = tuple_(created_at, id_)
        key = tuple_(cursor.created_at, cursor.id)
        if descending:
            bound = and_(created_at <= cursor.created_at, row < key)
        else:
            bound = and_(created_at >= cursor.created_at, row > key)
        stmt = stmt.where(bound)
    if descending:
        stmt = stmt.order_by(created_at.desc(), id_.desc())
    else:
        stmt = stmt.order_by(created_at.asc(), id_.asc())
    return stmt.limit(limit + 1)
