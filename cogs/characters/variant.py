"""The variant flow: a character's image changed by an instruction, filed under a theme and
posted in the character's thread (``/variant create`` and the New variant modal)."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, deliver
from bot.services.conversation.variants import record_variant_message
from bot.ui.embeds import variant_embed
from bot.ui.text import clip
from cogs.characters.generating import defer, generate, image_file, image_filename
from cogs.conversation.buttons import variant_view

log = logging.getLogger(__name__)


async def variant_flow(
    interaction: discord.Interaction[Any],
    *,
    character_id: str,
    instruction: str,
    theme: str | None,
    thread_id: int | None,
) -> None:
    """A variant: drawn, stored, and posted in the character's thread (``thread_id``, from
    ``Meta(character.meta).conversation_id``).

    Inside the thread the response itself is the post; elsewhere the reply is private and the
    variant goes to the thread (or, with no thread, into the reply, public)."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the post, not only the generation
    in_thread = thread_id is not None and interaction.channel_id == thread_id
    await defer(interaction, public=in_thread or thread_id is None)
    member = await caller(interaction)
    lang = member.lang
    outcome = await generate(
        interaction,
        lang,
        lambda progress: deps.pipeline.create_variant(
            user_id=member.user.id,
            character_id=character_id,
            instruction=instruction,
            theme_name=theme,
            progress=progress,
            conversation_id=str(thread_id) if thread_id is not None else None,
        ),
    )
    if outcome.variant is None or outcome.theme is None:  # pragma: no cover - always set
        msg = "a variant outcome without its variant"
        raise RuntimeError(msg)
    t = deps.catalog.t
    embed = variant_embed(
        deps.catalog,
        lang,
        outcome.character,
        outcome.theme,
        outcome.variant,
        image_filename=image_filename(outcome.mime_type, "variant"),
    )
    files = image_file(outcome.image, outcome.mime_type, "variant")
    content = t(lang, "variant.created", theme=clip(outcome.theme.name, 50))
    view = variant_view(deps.catalog, lang, outcome.variant)
    if thread_id is not None and not in_thread:
        try:
            thread = interaction.client.get_partial_messageable(thread_id)
            posted = await thread.send(
                content=content,
                embed=embed,
                files=files(),
                view=view,
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException:
            log.info("character thread %s unavailable; replying in place", thread_id)
        else:
            await _remember(interaction, outcome.variant.id, posted)
            await deliver(interaction, content=t(lang, "variant.posted", link=posted.jump_url))
            return
        interaction.extras["public_defer"] = False
    posted = await deliver(interaction, content=content, embed=embed, view=view, files=files)
    await _remember(interaction, outcome.variant.id, posted)


async def _remember(
    interaction: discord.Interaction[Any], variant_id: str, posted: discord.Message
) -> None:
    """Where the variant is shown: replies to that message edit this image."""
    await record_variant_message(
        deps_of(interaction.client).db,
        variant_id,
        channel_id=posted.channel.id,
        message_id=posted.id,
    )
