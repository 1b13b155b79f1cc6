"""The guild's showcase channel follows each character's public flag."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import discord
from sqlalchemy import delete, select

from bot.interactions.replies import NO_MENTIONS
from bot.ui.embeds import character_embed
from db.bot_models import GuildSettings, ShowcasePost
from db.models import Character, User

if TYPE_CHECKING:
    from bot.app import CharBot

log = logging.getLogger(__name__)


async def _showcase_allowed(bot: CharBot, character: Character) -> bool:
    async with bot.reads() as session:
        owner = await session.get(User, character.user_id)
    return bool(
        character.is_public
        and character.generation_status == "completed"
        and owner is not None
        and owner.allow_gallery_showcase
        and (owner.account_status or "active") == "active"
    )


async def remove_showcase_posts(bot: CharBot, character_id: str) -> int:
    """Delete a character's showcase messages in every guild; returns how many."""
    async with bot.sessions.begin() as session:
        posts = (
            await session.scalars(
                select(ShowcasePost).where(ShowcasePost.character_id == character_id)
            )
        ).all()
        await session.execute(delete(ShowcasePost).where(ShowcasePost.character_id == character_id))
    for post in posts:
        try:
            await bot.http.delete_message(post.channel_id, post.message_id)
        except discord.HTTPException:
            log.info("showcase message %s already gone", post.message_id)
    return len(posts)


async def sync_showcase(
    bot: CharBot, guild_id: int | None, character: Character, lang: str = "en"
) -> None:
    """Post a newly public character to the guild's showcase channel, or remove its posts."""
    if not await _showcase_allowed(bot, character):
        await remove_showcase_posts(bot, character.id)
        return
    if guild_id is None:
        return
    async with bot.reads() as session:
        settings = await session.get(GuildSettings, guild_id)
        already = await session.get(ShowcasePost, (character.id, guild_id))
    if settings is None or settings.showcase_channel_id is None or already is not None:
        return
    embed = character_embed(bot.catalog, lang, character)
    files: list[discord.File] = []
    key = (character.meta or {}).get("imageKey")
    if not (character.image_url or "").startswith("http") and key:
        data = await bot.storage.get(str(key))
        files.append(discord.File(io.BytesIO(data), filename="portrait.png"))
        embed.set_image(url="attachment://portrait.png")
    channel = bot.get_partial_messageable(settings.showcase_channel_id, guild_id=guild_id)
    try:
        message = await channel.send(
            embed=embed, files=files or discord.utils.MISSING, allowed_mentions=NO_MENTIONS
        )
    except discord.HTTPException:
        log.warning("could not post to showcase channel %s", settings.showcase_channel_id)
        return
    async with bot.sessions.begin() as session:
        session.add(
            ShowcasePost(
                character_id=character.id,
                guild_id=guild_id,
                channel_id=settings.showcase_channel_id,
                message_id=message.id,
            )
        )
