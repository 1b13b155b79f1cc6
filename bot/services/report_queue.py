"""The platform moderators' queue of open reports (oldest first) and what resolving one does:
dismiss it, or unpublish its character everywhere. (Filing a report:
:mod:`bot.services.reports`.)

Resolving is a conditional ``UPDATE … WHERE status = 'open'`` in the same transaction as the
``moderation_actions`` row, so two moderators pressing at once log the outcome exactly once:
the second finds the report closed and is told so (:class:`ReportClosedError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import exists, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.errors import DomainError
from bot.services.characters import is_valid_id
from bot.services.moderation import Moderator, Unpublished, record_action, unpublish_character
from bot.services.pagination import Page, apply_keyset, encode_cursor, keyset_page, parse_cursor
from bot.services.reports import OPEN, is_open
from db.bot_models import CharacterReport
from db.engine import Database
from db.models import Character, User

QUEUE_PAGE_SIZE = 1
Outcome = Literal["dismissed", "unpublished"]


class NotPlatformModeratorError(DomainError):
    """Only platform moderators (the application's owner or team, PLATFORM_MODERATOR_IDS) may
    see the report queue and resolve reports."""

    key = "reports.platform_only"

    def __init__(self) -> None:
        super().__init__()


class ReportClosedError(DomainError):
    """The report is no longer open: another moderator resolved it, its character was deleted,
    or the id was never one of ours."""

    key = "reports.closed"

    def __init__(self) -> None:
        super().__init__()


@dataclass(frozen=True, slots=True)
class QueuedReport:
    """An open report as the queue shows it."""

    id: str
    character: Character
    owner_name: str
    reporter_name: str
    guild_id: int | None
    reason: str
    created_at: datetime
    open_on_character: int


@dataclass(frozen=True, slots=True)
class ReportQueue:
    """One page of the open reports (oldest first) and how many are open in all."""

    page: Page[QueuedReport]
    open_total: int


@dataclass(frozen=True, slots=True)
class Resolution:
    """What resolving a report did: ``closed`` reports of the character (the pressed one
    included), ``unpublished`` when the character was taken out of the gallery (whom to tell),
    ``reason`` the report's (the why that is logged and told), and ``after``, the queue
    position that followed the report."""

    outcome: Outcome
    character_id: str
    character_name: str | None
    reason: str
    closed: int
    unpublished: Unpublished | None
    after: str


def _name(user: User | None) -> str:
    if user is None:
        return "someone"
    return user.display_name or user.username or "someone"


# --- the queue ------------------------------------------------------------------------------


async def _queue_page(session: AsyncSession, cursor: str | None, limit: int) -> Page[QueuedReport]:
    parsed = parse_cursor(cursor) if cursor else None
    owner = aliased(User)
    reporter = aliased(User)
    others = aliased(CharacterReport)
    open_on_character = (
        select(func.count())
        .where(others.character_id == CharacterReport.character_id, others.status == OPEN)
        .scalar_subquery()
    )
    stmt = (
        select(CharacterReport, Character, owner, reporter, open_on_character)
        .join(Character, Character.id == CharacterReport.character_id)
        .join(owner, owner.id == Character.user_id)
        .join(reporter, reporter.id == CharacterReport.reporter_user_id)
        .where(is_open)
    )
    stmt = apply_keyset(
        stmt,
        CharacterReport.created_at,
        CharacterReport.id,
        cursor=parsed,
        limit=limit,
        order="asc",
    )
    rows = (await session.execute(stmt)).all()
    page = keyset_page(rows, limit=limit, cursor=parsed, key=lambda r: (r[0].created_at, r[0].id))
    items = [
        QueuedReport(
            id=report.id,
            character=character,
            owner_name=_name(owner_row),
            reporter_name=_name(reporter_row),
            guild_id=report.guild_id,
            reason=report.reason,
            created_at=report.created_at,
            open_on_character=int(count),
        )
        for report, character, owner_row, reporter_row, count in page.items
    ]
    prev_cursor = page.prev_cursor
    if items and prev_cursor is not None:
        first = items[0]
        earlier = await session.scalar(
            select(
                exists().where(
                    is_open,
                    tuple_(CharacterReport.created_at, CharacterReport.id)
                    < tuple_(first.created_at, first.id),
                )
            )
        )
        prev_cursor = prev_cursor if earlier else None
    return Page(items=items, next_cursor=page.next_cursor, prev_cursor=prev_cursor)


async def open_queue(
    db: Database, cursor: str | None = None, limit: int = QUEUE_PAGE_SIZE
) -> ReportQueue:
    """/mod reports: a page of the open reports, oldest first. A page past either end (its
    reports were resolved meanwhile) shows the first page instead.

    Raises: InvalidInputError ("invalid.cursor").
    """
    async with db.read() as session:
        page = await _queue_page(session, cursor, limit)
        if not page.items and cursor is not None:
            page = await _queue_page(session, None, limit)
        total = await session.scalar(select(func.count()).where(is_open)) or 0
    return ReportQueue(page=page, open_total=int(total))


# --- resolving ------------------------------------------------------------------------------


async def _claim(
    session: AsyncSession, report_id: str, outcome: Outcome, by: Moderator
) -> tuple[str, str, datetime]:
    """Close the report if it is still open: its ``(character_id, reason, created_at)``.

    Raises: ReportClosedError (closed already, deleted, or not an id of ours).
    """
    if not is_valid_id(report_id):
        raise ReportClosedError()
    claimed = (
        await session.execute(
            update(CharacterReport)
            .where(CharacterReport.id == report_id, is_open)
            .values(status=outcome, resolved_by_discord_id=by.discord_id, resolved_at=func.now())
            .returning(
                CharacterReport.character_id, CharacterReport.reason, CharacterReport.created_at
            )
        )
    ).first()
    if claimed is None:
        raise ReportClosedError()
    return claimed.character_id, claimed.reason, claimed.created_at


async def dismiss_report(db: Database, report_id: str, by: Moderator) -> Resolution:
    """Dismiss: the report is closed without action, logged as ``dismiss_report`` (platform).

    Raises: ReportClosedError.
    """
    async with db.transaction() as session:
        character_id, reason, created_at = await _claim(session, report_id, "dismissed", by)
        character = await session.get(Character, character_id)
        record_action(
            session,
            by,
            "dismiss_report",
            target_user_id=character.user_id if character else None,
            target_character_id=character_id,
            reason=reason,
            details={"report": report_id, "name": character.name if character else None},
            scope="platform",
        )
    return Resolution(
        outcome="dismissed",
        character_id=character_id,
        character_name=character.name if character else None,
        reason=reason,
        closed=1,
        unpublished=None,
        after=encode_cursor(created_at, report_id, "next"),
    )


async def unpublish_reported(db: Database, report_id: str, by: Moderator) -> Resolution:
    """Unpublish: the character leaves the gallery everywhere (``is_public`` false, logged with
    scope platform, the report's reason as the why) and every open report of it is closed as
    ``unpublished``, in one transaction. When the character was no longer public, its reports
    are closed and the decision is logged all the same (no owner to tell).

    The caller removes the showcase posts and tells the owner once this returns.

    Raises: ReportClosedError.
    """
    async with db.transaction() as session:
        character_id, reason, created_at = await _claim(session, report_id, "unpublished", by)
        others = await session.execute(
            update(CharacterReport)
            .where(CharacterReport.character_id == character_id, is_open)
            .values(
                status="unpublished", resolved_by_discord_id=by.discord_id, resolved_at=func.now()
            )
        )
        closed = 1 + int(getattr(others, "rowcount", 0) or 0)
        character = await session.get(Character, character_id, populate_existing=True)
        if character is None:  # pragma: no cover - the report's foreign key cascades
            raise ReportClosedError()
        unpublished: Unpublished | None = None
        if character.is_public:
            unpublished = await unpublish_character(
                session,
                character_id,
                guild_id=by.guild_id,
                moderator_discord_id=by.discord_id,
                moderator_user_id=by.user_id,
                reason=reason,
            )
        else:
            record_action(
                session,
                by,
                "unpublish",
                target_user_id=character.user_id,
                target_character_id=character_id,
                reason=reason,
                details={"name": character.name, "report": report_id, "already_private": True},
                scope="platform",
            )
    return Resolution(
        outcome="unpublished",
        character_id=character_id,
        character_name=character.name,
        reason=reason,
        closed=closed,
        unpublished=unpublished,
        after=encode_cursor(created_at, report_id, "next"),
    )
