"""Remix: the Remix button of gallery cards and showcase posts, its modal (the instruction), and
the flow that makes the presser's new character through the create pipeline (charged, its
stages shown, posted in the channel with its thread, refunded on failure), credits the original
and tells its owner.

The button's custom_id carries the character's id (``remix:<id>``, built by
:mod:`cogs.gallery.remix_buttons`), so it works after a restart and on any process. A press
checks at once what the remix would refuse (a character no longer in the gallery, an owner who
turned remixes off) before asking for the instruction; the create checks it again with the
charge, so a refusal never costs a unit.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.i18n import Catalog
from bot.interactions.caller import Caller, caller
from bot.interactions.deps import deps_of
from bot.interactions.notices import tell_member
from bot.interactions.routing import FeatureButton, FeatureModal
from bot.services import remix
from bot.services.generation import Outcome
from bot.services.remix import RemixSource
from bot.ui.text import MODAL_TITLE_MAX, clip
from cogs.characters.flows import create_and_post, defer

log = logging.getLogger(__name__)


class RemixButton(FeatureButton, template=r"remix:(?P<id>[A-Za-z0-9_-]{1,64})"):
    """Remix this character: ``remix:<character id>``."""

    def __init__(self, character_id: str, *, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or None,
                style=discord.ButtonStyle.secondary,
                custom_id=f"remix:{character_id}",
            )
        )
        self.character_id = character_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RemixButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(match["id"], label=label or "")

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Refuse at once what cannot be remixed; else ask for the instruction."""
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        source = await remix.check_remixable(
            deps.db, self.character_id, member.user.id, interaction.guild_id
        )
        await interaction.response.send_modal(
            RemixModal(deps.catalog, member.lang, self.character_id, source.character.name)
        )


class RemixModal(FeatureModal):
    """How the remix should differ (1–500 characters); the submission makes it."""

    def __init__(
        self, catalog: Catalog, lang: str, character_id: str, name: str | None = None
    ) -> None:
        title = catalog.t(
            lang, "remix.modal_title", name=clip(name or catalog.t(lang, "character.unnamed"), 30)
        )
        super().__init__(
            title=clip(title, MODAL_TITLE_MAX),
            custom_id=f"remixmodal:{character_id}",
            timeout=900,
        )
        self.character_id = character_id
        self.instruction: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(catalog.t(lang, "field.instruction"), MODAL_TITLE_MAX),
            custom_id="instruction",
            placeholder=clip(catalog.t(lang, "remix.instruction_hint"), 100),
            style=discord.TextStyle.paragraph,
            min_length=1,
            max_length=500,
            required=True,
        )
        self.add_item(self.instruction)

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Make the remix."""
        await remix_flow(interaction, self.character_id, self.instruction.value)


async def remix_flow(
    interaction: discord.Interaction[Any], character_id: str, instruction: str
) -> None:
    """A remix, from defer to thread: the presser's new character, credited, its original's
    owner told (unless the presser remixed their own)."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the post, not only the generation
    await defer(interaction, public=True)
    member = await caller(interaction)
    request, source = await remix.remix_request(
        deps.db, deps.storage, character_id, member.user.id, instruction, interaction.guild_id
    )
    credit = deps.catalog.t(
        member.lang,
        "remix.credit_line",
        name=clip(source.character.name or deps.catalog.t(member.lang, "character.unnamed"), 100),
        creator=clip(source.creator_name, 100),
    )
    outcome, message = await create_and_post(interaction, member, request, notes=[credit])
    if source.owner_id != member.user.id:
        await tell_owner(interaction, member, source, outcome, message)


async def tell_owner(
    interaction: discord.Interaction[Any],
    member: Caller,
    source: RemixSource,
    outcome: Outcome,
    message: discord.Message,
) -> None:
    """Tell the original's owner (a DM, else a notice with their next reply): who remixed
    what, by display name, with a link to the post. Best effort: the remix stands."""
    unnamed = deps_of(interaction.client).catalog.t(
        source.owner_language or "en", "character.unnamed"
    )
    params = {
        "name": clip(source.character.name or unnamed, 100),
        "remix": clip(outcome.character.name or unnamed, 100),
        "by": clip(interaction.user.display_name, 100),
        "link": message.jump_url,
    }
    try:
        await tell_member(
            interaction.client,
            user_id=source.owner_id,
            discord_id=source.owner_discord_id,
            language=source.owner_language,
            key=remix.NOTICE_KEY,
            params=params,
        )
    except Exception:
        log.exception("could not tell user=%s of a remix by %s", source.owner_id, member.user.id)
