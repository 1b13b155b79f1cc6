"""Make a character from a picture (the message context menu): the picture is read by the
text model into a proposal, shown privately with the picture and a Continue button; the button
opens a modal prefilled with the proposed name, style and description; its submission is a
create with that picture as the reference (quota, progress, thread as usual).

Stateless between the steps: the proposal message carries the picture (its attachment) and the
proposal (its embed), and the button and the modal read them back from it, so the steps work
wherever the member is, the bot a member there or not.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import discord

from bot.errors import InvalidInputError
from bot.i18n import Catalog
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.placement import age_restricted
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureButton, FeatureModal
from bot.providers.base import PictureDescription
from bot.services.generation import CreateRequest
from bot.storage.images import extension_for, validate_reference_image
from bot.ui.files import file_of
from bot.ui.text import button_label, clip
from cogs.characters.flows import MAX_REFERENCE_BYTES, create_and_post, defer, read_reference

PICTURE_STEM = "picture"
DOWNLOAD_SECONDS = 20.0
# Embed images are fetched only from Discord's own hosts (its media proxy and CDN).
_DISCORD_MEDIA = ("discordapp.net", "discordapp.com", "discord.com")
_IMAGE_SUFFIX = re.compile(r"\.(png|jpe?g|webp|gif)$", re.IGNORECASE)


def _is_image(attachment: discord.Attachment) -> bool:
    kind = (attachment.content_type or "").lower()
    return kind.startswith("image/") or bool(_IMAGE_SUFFIX.search(attachment.filename or ""))


def _discord_media(url: str | None) -> bool:
    host = (urlsplit(url or "").hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in _DISCORD_MEDIA)


async def picture_of(client: discord.Client, message: discord.Message) -> tuple[bytes, str] | None:
    """The message's picture (its first image attachment, else its first embed image) as
    checked bytes and MIME type; None when it has none.

    Raises: InvalidInputError (too large, not an image, cannot be downloaded).
    """
    for attachment in message.attachments:
        if _is_image(attachment):
            data, mime = await read_reference(attachment)
            if data is not None and mime is not None:
                return data, mime
    for embed in message.embeds:
        for media in (embed.image, embed.thumbnail):
            # Discord's media proxy (or its CDN) only: never a link a message points anywhere
            url = next((u for u in (media.proxy_url, media.url) if _discord_media(u)), None)
            if not url:
                continue
            try:
                async with asyncio.timeout(DOWNLOAD_SECONDS):
                    data = await client.http.get_from_cdn(url)
            except (discord.HTTPException, aiohttp.ClientError, TimeoutError, ValueError):
                raise InvalidInputError(
                    "I couldn't download the picture.", "invalid.image.download"
                ) from None
            if len(data) > MAX_REFERENCE_BYTES:
                raise InvalidInputError(
                    "The picture is too large (at most 10 MB).",
                    "invalid.image.too_large",
                    size_mb=round(len(data) / 1024 / 1024, 1),
                    max_mb=10,
                )
            return await validate_reference_image(data)
    return None


def proposal_embed(
    catalog: Catalog, lang: str, proposal: PictureDescription, filename: str
) -> discord.Embed:
    """The proposal: its name (title), description and style, and the picture."""
    attrs = proposal.attributes
    embed = discord.Embed(
        title=clip(attrs.name, 100),
        description=clip(proposal.description, 2000),
        colour=0x5865F2,
    )
    embed.add_field(
        name=catalog.t(lang, "field.style"), value=catalog.t(lang, f"style.{proposal.style}")
    )
    if attrs.personality:
        embed.add_field(
            name=catalog.t(lang, "field.personality"),
            value=clip(", ".join(attrs.personality), 1000),
            inline=False,
        )
    embed.set_thumbnail(url=f"attachment://{filename}")
    return embed


async def make_from_message(
    interaction: discord.Interaction[Any], message: discord.Message
) -> None:
    """The context menu: read the picture, then show the proposal privately."""
    deps = deps_of(interaction.client)
    await defer(interaction, public=False)
    member = await caller(interaction)
    found = await picture_of(interaction.client, message)
    if found is None:
        raise InvalidInputError("That message has no picture.", "invalid.no_picture")
    data, mime = found
    proposal = await deps.pipeline.describe_picture(
        data, mime, user=member.user, age_restricted=age_restricted(interaction)
    )
    filename = f"{PICTURE_STEM}.{extension_for(mime)}"
    view = discord.ui.View(timeout=None)
    view.add_item(
        MakeFromPictureButton(proposal.style, label=deps.catalog.t(member.lang, "picture.continue"))
    )
    await respond(
        interaction,
        deps.catalog.t(member.lang, "picture.proposal"),
        embed=proposal_embed(deps.catalog, member.lang, proposal, filename),
        files=[file_of(data, filename)],
        view=view,
        allowed_mentions=NO_MENTIONS,
    )


class MakeFromPictureButton(FeatureButton, template=r"mkchar:(?P<style>[a-z]{1,20})"):
    """Continue on a proposal: ``mkchar:<proposed style>``; opens the confirming modal."""

    def __init__(self, style: str, *, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or "→",
                style=discord.ButtonStyle.primary,
                custom_id=f"mkchar:{style}",
            )
        )
        self.style = style

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> MakeFromPictureButton:
        return cls(match["style"], label=button_label(item))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Open the modal, prefilled from the proposal on the message."""
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        embed = (
            interaction.message.embeds[0]
            if interaction.message and interaction.message.embeds
            else None
        )
        await interaction.response.send_modal(
            MakeFromPictureModal(
                deps.catalog,
                member.lang,
                name=embed.title if embed else None,
                style=self.style,
                description=embed.description if embed else None,
            )
        )


class MakeFromPictureModal(FeatureModal):
    """Name, style and description, prefilled; the submission creates the character with the
    proposal's picture as the reference."""

    def __init__(
        self,
        catalog: Catalog,
        lang: str,
        *,
        name: str | None,
        style: str,
        description: str | None,
    ) -> None:
        t = catalog.t
        super().__init__(title=clip(t(lang, "modal.picture.title"), 45), timeout=900)
        self.name_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.name"), 45),
            default=clip(name, 100) or None,
            max_length=100,
            required=False,
        )
        self.style_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.style"), 45),
            default=clip(style, 20) or None,
            placeholder=clip(t(lang, "modal.picture.style_hint"), 100),
            max_length=20,
            required=True,
        )
        self.description_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.description"), 45),
            style=discord.TextStyle.paragraph,
            default=clip(description, 2000) or None,
            max_length=2000,
            required=True,
        )
        for item in (self.name_input, self.style_input, self.description_input):
            self.add_item(item)

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Create the character from the proposal's picture (on the message the modal came
        from); quota, progress and thread as for /character create."""
        deps_of(interaction.client).flows.track()  # shutdown waits for the post, too
        await defer(interaction, public=True)
        member = await caller(interaction)
        source = interaction.message
        found = await picture_of(interaction.client, source) if source is not None else None
        if found is None:
            raise InvalidInputError("That message has no picture.", "invalid.no_picture")
        reference, mime = found
        request = CreateRequest(
            user_id=member.user.id,
            description=self.description_input.value,
            style=self.style_input.value.strip().lower(),
            name=self.name_input.value.strip() or None,
            reference=reference,
            reference_mime=mime,
            age_restricted=age_restricted(interaction),
        )
        await create_and_post(interaction, member, request)
