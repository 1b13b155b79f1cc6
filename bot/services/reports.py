"""Reports: a member's report of a gallery character (the Report button's modal), and the
guild's log channel it is posted to. (The platform moderators' queue and resolving a report:
:mod:`bot.services.report_queue`.)

A member may report a character that is in the public gallery and is not theirs, once while
their report is open: the partial unique index on open reports holds that even when two
submissions race (the insert's ON CONFLICT finds it and changes nothing).

The use cases (taking a :class:`~db.engine.Database`) open their own unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Text, exists, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ConflictError, InvalidInputError
from bot.services.characters import clean_text, is_valid_id
from bot.services.visibility import is_publicly_visible
from db.bot_models import CharacterReport, GuildSettings
from db.engine import Database
from db.models import Character, User

MAX_REASON = 500
# ``status = 'open'`` with a literal, so the partial indexes on open reports match it (the
# one-open-report-per-member index is the arbiter of the insert's ON CONFLICT).
OPEN = literal_column("'open'", Text)
is_open = CharacterReport.status == OPEN


@dataclass(frozen=True, slots=True)
class FiledReport:
    """A report just made, and where the reporter's guild wants reports posted."""

    id: str
    character_id: str
    character_name: str | None
    reason: str
    log_channel_id: int | None


def _reason(reason: str) -> str:
    cleaned = clean_text(
        reason, field="reason", label="reason", max_length=MAX_REASON, required=True
    )
    assert cleaned is not None
    return cleaned


# --- filing a report ------------------------------------------------------------------------


async def _reportable(session: AsyncSession, character_id: str, reporter_user_id: str) -> Character:
    """The character, when the member may report it. An unknown id is refused like a
    character outside the gallery, so a forged button tells nothing about other members' rows.

    Raises: InvalidInputError ("reports.own", "reports.not_public").
    """
    character = await session.get(Character, character_id) if is_valid_id(character_id) else None
    if character is not None and character.user_id == reporter_user_id:
        raise InvalidInputError("You can't report your own character.", reason_key="reports.own")
    owner = await session.get(User, character.user_id) if character is not None else None
    if character is None or not is_publicly_visible(character, owner):
        raise InvalidInputError(
            "That character isn't in the gallery, so it can't be reported.",
            reason_key="reports.not_public",
        )
    return character


def _duplicate(character: Character) -> ConflictError:
    return ConflictError(
        "You already reported this character; the moderators haven't looked at it yet.",
        reason_key="reports.duplicate",
        name=character.name or "",
    )


async def check_reportable(db: Database, character_id: str, reporter_user_id: str) -> None:
    """The Report button, before its modal opens: refuse at once what the report would refuse.

    Raises: as :func:`file_report` (apart from the reason).
    """
    async with db.read() as session:
        character = await _reportable(session, character_id, reporter_user_id)
        already = await session.scalar(
            select(
                exists().where(
                    CharacterReport.character_id == character.id,
                    CharacterReport.reporter_user_id == reporter_user_id,
                    is_open,
                )
            )
        )
    if already:
        raise _duplicate(character)


async def log_channel(session: AsyncSession, guild_id: int | None) -> int | None:
    """The channel the guild wants moderation news in (``/mod setup log_channel``), if any."""
    if guild_id is None:
        return None
    channel_id: int | None = await session.scalar(
        select(GuildSettings.log_channel_id).where(GuildSettings.guild_id == guild_id)
    )
    return channel_id


async def file_report(
    db: Database, *, character_id: str, reporter_user_id: str, guild_id: int | None, reason: str
) -> FiledReport:
    """The report modal: record the member's report of a gallery character.

    Raises: InvalidInputError ("reports.own", "reports.not_public", reason empty or over 500),
    ConflictError ("reports.duplicate": their report of it is open).
    """
    why = _reason(reason)
    async with db.transaction() as session:
        character = await _reportable(session, character_id, reporter_user_id)
        report_id = await session.scalar(
            insert(CharacterReport)
            .values(
                character_id=character.id,
                reporter_user_id=reporter_user_id,
                guild_id=guild_id,
                reason=why,
            )
            .on_conflict_do_nothing(
                index_elements=[CharacterReport.reporter_user_id, CharacterReport.character_id],
                index_where=is_open,
            )
            .returning(CharacterReport.id)
        )
        if report_id is None:
            raise _duplicate(character)
        channel_id = await log_channel(session, guild_id)
    return FiledReport(report_id, character.id, character.name, why, channel_id)
