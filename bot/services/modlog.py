"""The moderation log: recent moderator actions in the caller's scope, as /mod log shows them
(the rows are written by :func:`bot.services.moderation.record_action`).

A guild's moderators see that guild's guild-scope actions; a platform moderator sees every
platform-scope action as well."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services.moderation import LogEntry, snowflake_of
from bot.services.pagination import clamp_limit
from db.bot_models import ModerationAction
from db.engine import Database
from db.models import Character, User

LOG_LIMIT = 15


async def moderation_log(db: Database, guild_id: int, *, platform: bool = False) -> list[LogEntry]:
    """/mod log: the most recent moderator actions of the guild (guild scope), with
    ``platform`` also those of the platform scope, newest first."""
    async with db.read() as session:
        return await recent_actions(session, guild_id, platform=platform)


async def recent_actions(
    session: AsyncSession, guild_id: int, limit: int = LOG_LIMIT, *, platform: bool = False
) -> list[LogEntry]:
    """The guild's most recent guild-scope moderator actions (with ``platform``, and every
    platform-scope action), newest first."""
    in_guild = and_(ModerationAction.scope == "guild", ModerationAction.guild_id == guild_id)
    which = or_(in_guild, ModerationAction.scope == "platform") if platform else in_guild
    moderator = aliased(User)
    target = aliased(User)
    rows = await session.execute(
        select(
            ModerationAction,
            moderator.display_name,
            target.display_name,
            target.auth0_id,
            Character.name,
        )
        .outerjoin(moderator, moderator.id == ModerationAction.moderator_user_id)
        .outerjoin(target, target.id == ModerationAction.target_user_id)
        .outerjoin(Character, Character.id == ModerationAction.target_character_id)
        .where(which)
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
        .limit(clamp_limit(limit))
    )
    out = []
    for action, moderator_name, target_name, target_auth0, character_name in rows:
        details = dict(action.details or {})
        out.append(
            LogEntry(
                action=action.action,
                moderator_discord_id=action.moderator_discord_id,
                moderator_name=moderator_name,
                target_user_name=target_name,
                target_user_discord_id=snowflake_of(target_auth0),
                target_character_name=character_name or details.get("name"),
                target_character_id=action.target_character_id,
                reason=action.reason,
                details=details,
                created_at=action.created_at,
                scope=action.scope,
            )
        )
    return out
