"""The post of a generation whose flow is gone (the process that accepted it stopped, or runs
no worker): its image, or what stopped it, through the interaction's token while Discord still
takes it (the "thinking…" response edited, else a followup), else as a message in the channel
or thread it was asked in. Never mentions anyone."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import discord

from bot.errors import read_english
from bot.i18n import Catalog
from bot.services.generation.job import CANCELLED
from bot.services.jobs.reply import ReplyTarget
from bot.services.jobs.store import delivery_facts
from bot.storage.base import Storage
from bot.ui.embeds import character_embed
from bot.ui.files import file_of
from bot.ui.text import CONTENT_MAX, clip
from db.engine import Database
from db.models import Character

log = logging.getLogger(__name__)

ORIGINAL = cast(int, "@original")
Buttons = Callable[[Catalog, str, Character], discord.ui.View]
"""Discord's name for an interaction's first response, where a message id goes in the route."""


def failure_reason(catalog: Catalog, lang: str, stored: str | None) -> str:
    """Why a generation failed, in ``lang``: its stored ``error_message`` is the error's English
    text (the web front end shows it), read back into the error's key; a text no error has
    (an internal error's) is told as the internal error."""
    read = read_english(stored) if stored else None
    if read is None:
        return catalog.t(lang, "error.internal")
    key, params = read
    return catalog.t(lang, key, **params)


class ResultPoster:
    """Posts generations' results for a worker (``client``: the bot, or a worker's REST-only
    client)."""

    def __init__(
        self,
        client: discord.Client,
        db: Database,
        storage: Storage,
        catalog: Catalog,
        *,
        buttons: Buttons | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.storage = storage
        self.catalog = catalog
        self.buttons = buttons
        """The buttons under a character's card (the characters feature's), when given."""

    async def __call__(self, generation_id: str, reply: ReplyTarget | None) -> None:
        facts = await delivery_facts(self.db, generation_id)
        if facts is None or reply is None:
            return
        lang = reply.lang
        files: list[discord.File] = []
        embed: discord.Embed | None = None
        view: discord.ui.View | None = None
        if facts.status == "completed":
            content = self.catalog.t(lang, "job.result")
            filename = None
            if facts.image_key:
                data = await self.storage.get(facts.image_key)
                suffix = facts.image_key.rsplit(".", 1)[-1] if "." in facts.image_key else "png"
                filename = f"image.{suffix}"
                files.append(file_of(data, filename))
            if facts.character is not None:  # a new portrait: the character's card
                embed = character_embed(
                    self.catalog, lang, facts.character, image_filename=filename
                )
                if self.buttons is not None:
                    view = self.buttons(self.catalog, lang, facts.character)
        elif facts.status == "failed" and facts.error != CANCELLED:  # cancelled: answered then
            content = self.catalog.t(
                lang, "job.failed", reason=failure_reason(self.catalog, lang, facts.error)
            )
        else:
            return
        await self.post(reply, clip(content, CONTENT_MAX), files, embed=embed, view=view)

    async def post(
        self,
        reply: ReplyTarget,
        content: str,
        files: list[discord.File],
        *,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
    ) -> None:
        """Through the token while it is valid, else to the channel; never pinging."""
        mentions = discord.AllowedMentions.none()
        extra: dict[str, Any] = {"embed": embed} if embed is not None else {}
        if view is not None:
            extra["view"] = view
        if reply.token_alive() and reply.application_id is not None and reply.token:
            webhook = discord.Webhook.partial(reply.application_id, reply.token, client=self.client)
            try:
                await webhook.edit_message(
                    ORIGINAL,
                    content=content,
                    attachments=files,
                    allowed_mentions=mentions,
                    **{"view": None, **extra},
                )
                return
            except discord.HTTPException as error:
                log.info("could not edit the original response (%s); following up", error.status)
            for file in files:
                file.reset()
            try:
                await webhook.send(content, files=files, allowed_mentions=mentions, **extra)
                return
            except discord.HTTPException as error:
                log.info("could not follow up (%s); posting to the channel", error.status)
            for file in files:
                file.reset()
        if reply.channel_id is None:
            return
        channel: Any = self.client.get_partial_messageable(reply.channel_id)
        await channel.send(content, files=files, allowed_mentions=mentions, **extra)
