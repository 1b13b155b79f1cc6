"""A guild's moderation settings (/mod setup): its showcase channel, moderator role and log
channel. Each change is logged as a moderator action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.moderation import Moderator, record_action
from db.bot_models import GuildSettings
from db.engine import Database


class _Unset:
    """Marks a setting the caller leaves as it is (None means "clear it")."""


UNSET: Final = _Unset()


async def get_guild_settings(session: AsyncSession, guild_id: int) -> GuildSettings | None:
    """The guild's settings row, if it has one."""
    return await session.get(GuildSettings, guild_id, populate_existing=True)


async def configure_guild(
    session: AsyncSession,
    guild_id: int,
    *,
    moderator_discord_id: int,
    moderator_user_id: str | None,
    showcase_channel_id: int | _Unset | None = UNSET,
    moderator_role_id: int | _Unset | None = UNSET,
    log_channel_id: int | _Unset | None = UNSET,
) -> GuildSettings:
    """Create or update the guild's settings (only the values given change) and log it."""
    values: dict[str, Any] = {}
    if not isinstance(showcase_channel_id, _Unset):
        values["showcase_channel_id"] = showcase_channel_id
    if not isinstance(moderator_role_id, _Unset):
        values["moderator_role_id"] = moderator_role_id
    if not isinstance(log_channel_id, _Unset):
        values["log_channel_id"] = log_channel_id
    stmt = insert(GuildSettings).values(guild_id=guild_id, **values)
    if values:
        stmt = stmt.on_conflict_do_update(
            index_elements=[GuildSettings.guild_id], set_={**values, "updated_at": func.now()}
        )
    else:
        stmt = stmt.on_conflict_do_nothing()
    await session.execute(stmt)
    record_action(
        session,
        Moderator(guild_id, moderator_discord_id, moderator_user_id),
        "setup",
        details={k: (str(v) if v is not None else None) for k, v in values.items()},
    )
    await session.flush()
    settings = await get_guild_settings(session, guild_id)
    assert settings is not None
    return settings


async def moderator_role(db: Database, guild_id: int) -> int | None:
    """The guild's moderator role, when it set one."""
    async with db.read() as session:
        settings = await get_guild_settings(session, guild_id)
    return settings.moderator_role_id if settings else None


async def log_channel(db: Database, guild_id: int) -> int | None:
    """The guild's log channel (where its moderator actions and reports are posted), if set."""
    async with db.read() as session:
        found = await session.scalar(
            select(GuildSettings.log_channel_id).where(GuildSettings.guild_id == guild_id)
        )
    return int(found) if found is not None else None


async def setup_guild(
    db: Database,
    by: Moderator,
    *,
    showcase_channel_id: int | None = None,
    moderator_role_id: int | None = None,
    log_channel_id: int | None = None,
) -> GuildSettings | None:
    """/mod setup in ``by``'s guild: set the values given (None leaves one as it is) and log
    it; with none given, only read the guild's settings (None when it has none)."""
    guild_id = by.guild_id or 0
    if showcase_channel_id is None and moderator_role_id is None and log_channel_id is None:
        async with db.read() as session:
            return await get_guild_settings(session, guild_id)
    async with db.transaction() as session:
        return await configure_guild(
            session,
            guild_id,
            moderator_discord_id=by.discord_id,
            moderator_user_id=by.user_id,
            showcase_channel_id=UNSET if showcase_channel_id is None else showcase_channel_id,
            moderator_role_id=UNSET if moderator_role_id is None else moderator_role_id,
            log_channel_id=UNSET if log_channel_id is None else log_channel_id,
        )


@dataclass(frozen=True, slots=True)
class ConfiguredChannel:
    """A channel a guild told the bot to post in."""

    guild_id: int
    channel_id: int
    purpose: str  # "showcase" or "log"


async def configured_channels(db: Database, *, limit: int) -> list[ConfiguredChannel]:
    """The channels guilds configured for the bot to post in (their showcase and log
    channels), the most recently configured first, at most ``limit`` (for ``charbot doctor``)."""
    query = (
        select(
            GuildSettings.guild_id, GuildSettings.showcase_channel_id, GuildSettings.log_channel_id
        )
        .where(
            or_(
                GuildSettings.showcase_channel_id.is_not(None),
                GuildSettings.log_channel_id.is_not(None),
            )
        )
        .order_by(GuildSettings.updated_at.desc(), GuildSettings.guild_id)
        .limit(limit)
    )
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    out: list[ConfiguredChannel] = []
    for guild_id, showcase, log in rows:
        if showcase is not None:
            out.append(ConfiguredChannel(int(guild_id), int(showcase), "showcase"))
        if log is not None and log != showcase:
            out.append(ConfiguredChannel(int(guild_id), int(log), "log"))
    return out[:limit]
