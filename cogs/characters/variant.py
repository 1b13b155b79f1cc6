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
from bot.services.generation import VariantSource
from bot.ui.embeds import variant_embed
from bot.ui.text import clip
from cogs.characters.generating import defer, filter_note, generate, image_file, image_filename

log = logging.getLogger(__name__)


async def variant_flow(
    interaction: discord.Interaction[Any],
    *,
    character_id: str,
    instruction: str,
    theme: str | None,
    thread_id: int | None,
    source_variant_id: str | None = None,
) -> None:
    """A variant: drawn, stored, and posted in the character's thread (``thread_id``, from
    ``Meta(character.meta).conversation_id``).

    Inside the thread the response itself is the post; elsewhere the reply is private and the
    variant goes to the thread (or, with no thread, into the reply, public). ``source_variant_id``
    names the variant whose image is edited (None: the portrait). An image made under the
    relaxed filter stays in the channel that allowed it; where the bot is not a member, the
    variant is the reply itself."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the post, not only the generation
    if placement(interaction) is Placement.FOLLOWUPS:
        thread_id = None  # where the bot is not a member, the result is the reply itself
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
            source=VariantSource(source_variant_id, age_restricted(interaction)),
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
    content += filter_note(deps.catalog, lang, outcome)
    if thread_id is not None and not in_thread and not outcome.relaxed:
        try:
            thread = interaction.client.get_partial_messageable(thread_id)
            posted = await thread.send(
                content=content, embed=embed, files=files(), allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException:
            log.info("character thread %s unavailable; replying in place", thread_id)
        else:
            await deliver(interaction, content=t(lang, "variant.posted", link=posted.jump_url))
            return
        interaction.extras["public_defer"] = False
    await deliver(interaction, content=content, embed=embed, files=files)
