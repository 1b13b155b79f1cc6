"""Notices a DM could not deliver: shown to the member as a private followup after a reply."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.i18n import choose_language
from bot.interactions.caller import cached_caller, caller_user_id
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.services import notices

log = logging.getLogger(__name__)


async def deliver_notices(interaction: discord.Interaction[Any]) -> None:
    """Show the member their undelivered notices as an ephemeral followup (after the reply),
    marking them delivered; nothing when none waits. Run after every completed slash command;
    a component or modal handler may call it too, after it has answered."""
    deps = deps_of(interaction.client)
    cached = cached_caller(interaction)
    if cached is not None:  # the member's row and notice flag, read when it began
        user_id: str | None = cached.user.id
        waiting = cached.has_notices
    else:  # read only: a member without a row has no notices, and gets no row here
        user_id = await caller_user_id(interaction)
        waiting = user_id is not None and await notices.notice_waiting(deps.db, user_id)
    if user_id is None or not waiting:
        return
    taken = await notices.take_waiting(deps.db, user_id)
    if not taken.notices:
        return
    chosen = cached.user.preferred_language if cached is not None else taken.preferred_language
    lang = choose_language(chosen, interaction.locale)
    text = "\n\n".join(deps.catalog.t(lang, n.key, **(n.params or {})) for n in taken.notices)
    try:
        await respond(interaction, text)
    except discord.HTTPException:
        log.warning("could not show notices to user=%s; keeping them", interaction.user.id)
        await notices.put_back(deps.db, taken.notices)


async def tell_member(
    client: discord.Client,
    *,
    user_id: str,
    discord_id: int | None,
    language: str | None,
    key: str,
    params: dict[str, Any],
) -> bool:
    """Send a member a message (catalog ``key`` with ``params``, in their language) by DM,
    pinging no one; when that fails, keep it as a notice for their next reply. True if DM'd."""
    deps = deps_of(client)
    if discord_id is not None:
        text = deps.catalog.t(choose_language(language, None), key, **params)
        try:
            channel = await client.create_dm(discord.Object(id=discord_id))
            await channel.send(text[:2000], allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.info("could not DM user=%s; keeping a notice", user_id)
        else:
            return True
    await notices.keep_notice(deps.db, user_id, key, params)
    return False
