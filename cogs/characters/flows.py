"""The character flows as members meet them: /character create, regenerate and import, from
the acknowledgement to the posted card and the character's thread.

The commands call ``flows.create_flow``, and the flows call ``defer`` and ``post_character``
through this module's names, so the benchmark can time them by replacing them here (and
``ProgressReporter.settle`` on the class).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord

from bot.cards import MAX_CHARX_BYTES, parse_card
from bot.cards.limits import too_large
from bot.errors import InvalidInputError
from bot.interactions.caller import Caller, caller
from bot.interactions.deps import deps_of
from bot.interactions.placement import age_restricted, open_thread
from bot.interactions.replies import NO_MENTIONS, POSTED, deliver, edit_posted
from bot.services import characters
from bot.services.generation import CreateRequest, Outcome
from bot.services.importing import import_card
from bot.storage.images import validate_reference_image
from bot.ui.embeds import character_embed
from bot.ui.text import clip
from cogs.characters.buttons import character_view
from cogs.characters.generating import (
    ProgressReporter,
    defer,
    filter_note,
    generate,
    image_file,
    image_filename,
    new_portrait,
)
from cogs.characters.relaxed import withdraw_if_relaxed

__all__ = [
    "ProgressReporter",
    "create_and_post",
    "create_flow",
    "defer",
    "import_flow",
    "post_character",
    "regenerate_flow",
]

log = logging.getLogger(__name__)

MAX_REFERENCE_BYTES = 10 * 1024 * 1024


async def read_reference(attachment: discord.Attachment | None) -> tuple[bytes | None, str | None]:
    """Download and check a reference image (real image, ≤ 10 MB, ≤ 4096 px, no bomb).

    Raises:
        InvalidInputError: not an acceptable image.
    """
    if attachment is None:
        return None, None
    if attachment.size > MAX_REFERENCE_BYTES:
        raise InvalidInputError(
            "The reference image is too large (at most 10 MB).",
            "invalid.image.too_large",
            size_mb=round(attachment.size / 1024 / 1024, 1),
            max_mb=10,
        )
    try:
        data = await attachment.read()
    except discord.HTTPException:
        raise InvalidInputError(
            "I couldn't download the reference image.", "invalid.image.download"
        ) from None
    return await validate_reference_image(data)


def _card(
    interaction: discord.Interaction[Any],
    member: Caller,
    outcome: Outcome,
    *,
    key: str,
    notes: list[str] | None,
) -> tuple[str, discord.Embed]:
    """The card's text (headline, ``notes``, the filter note) and its embed."""
    catalog = deps_of(interaction.client).catalog
    lang, character = member.lang, outcome.character
    embed = character_embed(
        catalog,
        lang,
        character,
        image_filename=image_filename(outcome.mime_type) if outcome.image else None,
    )
    headline = catalog.t(lang, key, name=clip(character.name, 100))
    return "\n".join([headline, *(notes or [])]) + filter_note(catalog, lang, outcome), embed


async def show_drawn(
    interaction: discord.Interaction[Any],
    member: Caller,
    preview: Outcome,
    *,
    key: str = "character.created",
    notes: list[str] | None = None,
) -> discord.Message:
    """A character's card as soon as its (new) portrait is drawn, while it is being saved:
    the portrait, its text (``key``), its buttons disabled (they act on a saved character).
    Until it is saved, a failure is told by editing this message (``POSTED``)."""
    catalog = deps_of(interaction.client).catalog
    content, embed = _card(interaction, member, preview, key=key, notes=notes)
    message = await deliver(
        interaction,
        content=content,
        embed=embed,
        view=character_view(catalog, member.lang, preview.character, disabled=True),
        files=image_file(preview.image, preview.mime_type),
    )
    interaction.extras[POSTED] = message
    return message


async def post_character(
    interaction: discord.Interaction[Any],
    member: Caller,
    outcome: Outcome,
    *,
    open_conversation: bool,
    imported: bool = False,
    notes: list[str] | None = None,
    shown: discord.Message | None = None,
) -> discord.Message:
    """Show the finished character with its buttons (``notes`` as extra lines under the
    headline; ``shown``: its card is posted already, the buttons come on); open its thread and
    remember it."""
    deps = deps_of(interaction.client)
    t = deps.catalog.t
    lang = member.lang
    character = outcome.character
    view = character_view(deps.catalog, lang, character)
    if shown is not None:
        message = shown
        try:
            await edit_posted(interaction, shown, view=view)
        except discord.HTTPException:
            log.warning("could not put the buttons on the card of %s", character.id)
    else:
        if imported:
            key = "character.imported"
        elif open_conversation:
            key = "character.created"
        else:
            key = "character.regenerated"
        content, embed = _card(interaction, member, outcome, key=key, notes=notes)
        message = await deliver(
            interaction,
            content=content,
            embed=embed,
            view=view,
            files=image_file(outcome.image, outcome.mime_type) if outcome.image else None,
        )
    await withdraw_if_relaxed(interaction, outcome)
    if not open_conversation:
        return message
    thread = await open_thread(interaction, message, character.name or "Character")
    in_dm = isinstance(interaction.channel, discord.DMChannel)  # the DM is the conversation
    await characters.record_conversation(
        deps.db,
        character.id,
        guild_id=message.guild.id if message.guild else interaction.guild_id,
        channel_id=message.channel.id,
        message_id=message.id,
        thread_id=thread.id if thread else (message.channel.id if in_dm else None),
    )
    if thread is not None:
        with contextlib.suppress(discord.HTTPException):
            await thread.send(
                t(
                    lang,
                    "thread.welcome",
                    name=clip(character.name, 100),
                    command=deps.command_ids.mention("variant create"),
                )
                + "\n"
                + t(lang, "thread.talk"),
                allowed_mentions=NO_MENTIONS,
            )
    return message


async def create_flow(
    interaction: discord.Interaction[Any],
    *,
    description: str,
    name: str | None,
    style: str,
    gender: str | None,
    age: str | None,
    reference: discord.Attachment | None,
) -> None:
    """/character create, from defer to thread."""
    deps_of(interaction.client).flows.track()  # shutdown waits for the post, too
    await defer(interaction, public=True)
    member = await caller(interaction)
    ref_bytes, ref_mime = await read_reference(reference)
    request = CreateRequest(
        user_id=member.user.id,
        description=description,
        style=style,
        name=name,
        gender=gender,
        age=age,
        reference=ref_bytes,
        reference_mime=ref_mime,
        age_restricted=age_restricted(interaction),
    )
    await create_and_post(interaction, member, request)


async def create_and_post(
    interaction: discord.Interaction[Any],
    member: Caller,
    request: CreateRequest,
    *,
    notes: list[str] | None = None,
) -> tuple[Outcome, discord.Message]:
    """A create request of the (deferred) interaction drawn, its card posted as soon as the
    portrait exists (``notes`` under the headline), its buttons and thread once it is saved."""
    deps = deps_of(interaction.client)
    shown: discord.Message | None = None

    async def on_drawn(preview: Outcome) -> None:
        nonlocal shown
        shown = await show_drawn(interaction, member, preview, notes=notes)

    outcome = await generate(
        interaction,
        member.lang,
        lambda progress: deps.pipeline.create_character(request, progress),
        on_drawn=on_drawn,
    )
    message = await post_character(
        interaction, member, outcome, open_conversation=True, notes=notes, shown=shown
    )
    return outcome, message


async def regenerate_flow(
    interaction: discord.Interaction[Any], character_id: str, instruction: str | None
) -> None:
    """/character regenerate: a new portrait posted as a new card as soon as it is drawn, its
    buttons enabled once it is saved."""
    deps_of(
        interaction.client
    ).flows.track()  # shutdown waits for the post, not only the generation
    await defer(interaction, public=True)
    member = await caller(interaction)
    shown: discord.Message | None = None

    async def on_drawn(preview: Outcome) -> None:
        nonlocal shown
        shown = await show_drawn(interaction, member, preview, key="character.regenerated")

    outcome = await new_portrait(
        interaction,
        member,
        character_id,
        instruction,
        age_restricted=age_restricted(interaction),
        on_drawn=on_drawn,
    )
    await post_character(interaction, member, outcome, open_conversation=False, shown=shown)


async def import_flow(
    interaction: discord.Interaction[Any], attachment: discord.Attachment
) -> None:
    """/character import: read the card, create the character, post it with its thread."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the post, not only the import
    await defer(interaction, public=True)
    member = await caller(interaction)
    if attachment.size > MAX_CHARX_BYTES:  # the largest file any card format may be
        raise too_large(attachment.size, MAX_CHARX_BYTES)
    try:
        data = await attachment.read()
    except discord.HTTPException:
        raise InvalidInputError(
            "I couldn't download that file.", "invalid.image.download"
        ) from None
    card = await asyncio.to_thread(parse_card, data, attachment.filename)
    imported = await import_card(deps.db, deps.storage, member.user.id, card)
    outcome = Outcome(
        generation_id="",
        character=imported.character,
        image=card.image or b"",
        mime_type=card.image_mime or "image/png",
        quota=None,  # an import uses no quota
    )
    notes = []
    if imported.variants:
        t = deps.catalog.t
        notes.append(
            t(member.lang, "import.assets", variants=imported.variants, themes=imported.themes)
        )
    if card.skipped_assets:
        notes.append(deps.catalog.t(member.lang, "import.skipped", count=card.skipped_assets))
    await post_character(
        interaction, member, outcome, open_conversation=True, imported=True, notes=notes
    )
