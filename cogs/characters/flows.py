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
from bot.interactions.replies import NO_MENTIONS, deliver
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


async def post_character(
    interaction: discord.Interaction[Any],
    member: Caller,
    outcome: Outcome,
    *,
    open_conversation: bool,
    imported: bool = False,
    notes: list[str] | None = None,
) -> discord.Message:
    """Show the finished character with its buttons (``notes`` as extra lines under the
    headline); open its thread and remember it."""
    deps = deps_of(interaction.client)
    t = deps.catalog.t
    lang = member.lang
    character = outcome.character
    has_image = bool(outcome.image)
    embed = character_embed(
        deps.catalog,
        lang,
        character,
        image_filename=image_filename(outcome.mime_type) if has_image else None,
    )
    if imported:
        key = "character.imported"
    elif open_conversation:
        key = "character.created"
    else:
        key = "character.regenerated"
    message = await deliver(
        interaction,
        content="\n".join([t(lang, key, name=clip(character.name, 100)), *(notes or [])])
        + filter_note(deps.catalog, lang, outcome),
        embed=embed,
        view=character_view(deps.catalog, lang, character),
        files=image_file(outcome.image, outcome.mime_type) if has_image else None,
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
    interaction: discord.Interaction[Any], member: Caller, request: CreateRequest
) -> None:
    """A create request of the (deferred) interaction drawn, then posted with its thread."""
    deps = deps_of(interaction.client)
    outcome = await generate(
        interaction,
        member.lang,
        lambda progress: deps.pipeline.create_character(request, progress),
    )
    await post_character(interaction, member, outcome, open_conversation=True)


async def regenerate_flow(
    interaction: discord.Interaction[Any], character_id: str, instruction: str | None
) -> None:
    """/character regenerate: a new portrait posted as a new card."""
    deps_of(
        interaction.client
    ).flows.track()  # shutdown waits for the post, not only the generation
    await defer(interaction, public=True)
    member = await caller(interaction)
    outcome = await new_portrait(
        interaction, member, character_id, instruction, age_restricted=age_restricted(interaction)
    )
    await post_character(interaction, member, outcome, open_conversation=False)


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
