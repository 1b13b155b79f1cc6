"""/character say: the text posted in the current channel or thread as the character, through
a webhook named and pictured as it (one webhook of the bot's per channel, created on first use
and found again among the channel's webhooks; threads use their parent's with ``thread_id``).
Mentions in the text never ping."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.errors import InvalidInputError
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.placement import bot_is_member
from bot.interactions.replies import NO_MENTIONS, respond
from bot.services import characters
from bot.storage.base import Storage
from bot.storage.pictures import is_web_url, picture_of
from bot.ui.text import clip
from db.meta import Meta
from db.models import Character

log = logging.getLogger(__name__)

WEBHOOK_NAME = "Charbot characters"
WEBHOOK_USERNAME_MAX = 80
_WEBHOOK_CHANNELS = (discord.TextChannel, discord.ForumChannel, discord.VoiceChannel)


def _needs_webhooks() -> InvalidInputError:
    return InvalidInputError(
        "I need the Manage Webhooks permission in this channel to speak as your character.",
        "say.needs_manage_webhooks",
    )


async def _target(
    interaction: discord.Interaction[Any],
) -> tuple[
    discord.TextChannel | discord.ForumChannel | discord.VoiceChannel, discord.Thread | None
]:
    """The channel whose webhook posts, and the thread to post in (if any).

    Raises: InvalidInputError where webhooks cannot be used (DMs, or the bot not a member).
    """
    if interaction.guild_id is None or not bot_is_member(interaction):
        raise InvalidInputError(
            "Speaking as a character works in server channels the bot is in.", "say.server_only"
        )
    channel = interaction.channel
    thread = channel if isinstance(channel, discord.Thread) else None
    parent: object = channel
    if thread is not None:
        parent = thread.parent
        if parent is None:
            try:
                parent = await interaction.client.fetch_channel(thread.parent_id)
            except discord.HTTPException:
                parent = None
    if not isinstance(parent, _WEBHOOK_CHANNELS):
        raise InvalidInputError(
            "Speaking as a character works in server channels the bot is in.", "say.server_only"
        )
    return parent, thread


async def channel_webhook(
    client: discord.Client,
    channel: discord.TextChannel | discord.ForumChannel | discord.VoiceChannel,
) -> discord.Webhook:
    """The bot's webhook of the channel: found among the channel's webhooks, else created.

    Raises: discord.Forbidden without Manage Webhooks; discord.HTTPException.
    """
    me = client.user
    for webhook in await channel.webhooks():
        mine = webhook.user is not None and me is not None and webhook.user.id == me.id
        if mine and webhook.token:
            return webhook
    return await channel.create_webhook(name=WEBHOOK_NAME, reason="/character say")


async def avatar_url(storage: Storage, row: Character) -> str | None:
    """A link Discord can fetch to the character's thumbnail (else its image); None when the
    picture is only a local file (the webhook then shows its default avatar)."""
    meta = Meta(row.meta)
    shown = await picture_of(
        storage,
        meta.thumbnail_key or meta.image_key,
        None,
        row.thumbnail_url or row.image_url,
        name="avatar",
    )
    return shown.url if shown is not None and is_web_url(shown.url) else None


async def say_flow(interaction: discord.Interaction[Any], character_id: str, text: str) -> None:
    """Post ``text`` as the member's character; only its owner may."""
    deps = deps_of(interaction.client)
    member = await caller(interaction)
    row = await characters.owned_character(deps.db, character_id, member.user.id)
    content = text.strip()
    if not content:
        raise InvalidInputError("Say something.", "invalid.say_empty")
    parent, thread = await _target(interaction)
    if not interaction.app_permissions.manage_webhooks:
        raise _needs_webhooks()
    avatar = await avatar_url(deps.storage, row)
    try:
        webhook = await channel_webhook(interaction.client, parent)
        await webhook.send(
            content=clip(content, 2000),
            username=clip(row.name or "Character", WEBHOOK_USERNAME_MAX),
            avatar_url=avatar or discord.utils.MISSING,
            thread=thread or discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
            wait=True,
        )
    except discord.Forbidden:
        raise _needs_webhooks() from None
    except discord.HTTPException as exc:
        log.warning("speaking as character %s failed: %s", row.id, exc)
        raise InvalidInputError(
            "Discord refused the message (a name it does not allow, or too long).",
            "say.refused",
        ) from None
    await respond(interaction, deps.catalog.t(member.lang, "say.done", name=clip(row.name, 80)))
