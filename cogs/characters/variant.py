"""The variant flow: a character's image changed by an instruction, filed under a theme and
posted in the character's thread (``/variant create`` and the New variant modal)."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.placement import Placement, age_restricted, placement
from bot.interactions.replies import NO_MENTIONS, deliver
from bot.services.conversation.variants import record_variant_message
from bot.services.generation.model import VariantRequest
from bot.ui.embeds import variant_embed
from bot.ui.text import clip
from cogs.characters.generating import defer, filter_note, generate, image_file, image_filename
from cogs.characters.relaxed import withdraw_if_relaxed
from cogs.conversation.buttons import variant_view

log = logging.getLogger(__name__)


async def variant_flow(
    interaction: discord.Interaction[Any],
    *,
    character_id: str,
    instruction: str,
    theme: str | None,
    thread_id: int | None,
    source_variant_id: str | None = None,
    from_portrait: bool = False,
) -> None:
    """A variant: drawn, stored, and posted in the character's thread (``thread_id``, from
    ``Meta(character.meta).conversation_id``).

    Inside the thread the response itself is the post; elsewhere the reply is private and the
    variant goes to the thread (or, with no thread, into the reply, public). The image edited
    is the variant ``source_variant_id``, else the portrait when ``from_portrait``, else the
    newest. An image made under the relaxed filter stays in the channel that allowed it; where
    the bot is not a member, the variant is the reply itself."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the post, not only the generation
    if placement(interaction) is Placement.FOLLOWUPS:
        thread_id = None  # only the interaction's own messages reach there
    in_thread = thread_id is not None and interaction.channel_id == thread_id
    await defer(interaction, public=in_thread or thread_id is None)
    member = await caller(interaction)
    lang = member.lang
    outcome = await generate(
        interaction,
        lang,
        lambda progress: deps.pipeline.edit_image(
            VariantRequest(
                user_id=member.user.id,
                character_id=character_id,
                instruction=instruction,
                theme_name=theme,
                source_variant_id=source_variant_id,
                from_portrait=from_portrait,
                conversation_id=str(thread_id) if thread_id is not None else None,
                conversation_theme=False,
                age_restricted=age_restricted(interaction),
            ),
            progress,
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
    await withdraw_if_relaxed(interaction, outcome)
    content = t(lang, "variant.created", theme=clip(outcome.theme.name, 50))
    content += filter_note(deps.catalog, lang, outcome)
    view = variant_view(deps.catalog, lang, outcome.variant)
    if thread_id is not None and not in_thread and not outcome.relaxed:
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
