"""The guild's showcase channel follows each character's public flag."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.i18n import choose_language
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS
from bot.services import showcase
from bot.storage.pictures import picture
from bot.ui.embeds import character_embed, picture_files
from cogs.gallery.remix_buttons import add_remix_button
from cogs.gallery.report import report_view
from db.models import Character

log = logging.getLogger(__name__)


async def remove_showcase_posts(
    client: discord.Client, character_id: str, *, guild_id: int | None = None
) -> int:
    """Delete a character's showcase messages in every guild (or in ``guild_id`` only);
    returns how many."""
    posts = await showcase.take_posts(deps_of(client).db, character_id, guild_id=guild_id)
    for post in posts:
        try:
            await client.http.delete_message(post.channel_id, post.message_id)
        except discord.HTTPException:
            log.info("showcase message %s already gone", post.message_id)
    return len(posts)


async def sync_showcase(interaction: discord.Interaction[Any], character: Character) -> None:
    """Post a newly public character to the guild's showcase channel (in the guild's language),
    or remove its posts everywhere when it is no longer publicly visible."""
    client: discord.Client = interaction.client
    deps = deps_of(client)
    if not await showcase.is_showcased(deps.db, character):
        await remove_showcase_posts(client, character.id)
        return
    guild_id = interaction.guild_id
    if guild_id is None:
        return
    channel_id = await showcase.channel_to_post(deps.db, guild_id, character.id)
    if channel_id is None:
        return
    lang = choose_language(None, interaction.guild_locale)
    shown = await picture(deps.storage, character, name="portrait")
    embed = character_embed(deps.catalog, lang, character, picture=shown)
    files = picture_files([shown])
    channel = client.get_partial_messageable(channel_id, guild_id=guild_id)
    try:
        message = await channel.send(
            embed=embed,
            files=files or discord.utils.MISSING,
            view=add_remix_button(
                report_view(deps.catalog, lang, character.id), deps.catalog, lang, character.id
            ),
            allowed_mentions=NO_MENTIONS,
        )
    except discord.HTTPException:
        log.warning("could not post to showcase channel %s", channel_id)
        return
    if not await showcase.record_post(deps.db, character.id, guild_id, channel_id, message.id):
        try:  # another publish of the same character posted it first
            await message.delete()
        except discord.HTTPException:
            log.info("could not remove a duplicate showcase post %s", message.id)
