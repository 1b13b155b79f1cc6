"""Suggestions: another member's mention in a conversation becomes a message with an Apply
button; only the owner may press it (charged to the owner, the suggester credited), and the
suggestion then says who applied it."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.errors import DomainError, NotFoundError
from bot.i18n import Catalog
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import Deps, deps_of
from bot.interactions.replies import NO_MENTIONS, localize_error
from bot.interactions.routing import FeatureButton
from bot.services.conversation.instructions import Instruction
from bot.services.conversation.sources import ConversationTarget
from bot.services.conversation.suggestions import add_suggestion, give_back, take_suggestion
from bot.services.generation.model import VariantRequest
from bot.ui.text import button_label, clip
from cogs.conversation.edits import run_edit

_UUID = r"[0-9a-f-]{36}"


class ApplyButton(FeatureButton, template=rf"sugg:(?P<cid>{_UUID}):(?P<sid>{_UUID})"):
    """``sugg:<character id>:<suggestion id>``: the owner makes the suggested variant."""

    def __init__(self, character_id: str, suggestion_id: str, *, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or None,
                emoji="✅",
                style=discord.ButtonStyle.success,
                custom_id=f"sugg:{character_id}:{suggestion_id}",
            )
        )
        self.character_id = character_id
        self.suggestion_id = suggestion_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ApplyButton:
        return cls(match["cid"], match["sid"], label=button_label(item))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Charged to the owner (anyone else is refused and nothing changes); the suggestion
        is kept again when the variant cannot be made."""
        await acknowledge(interaction)
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        suggestion = await take_suggestion(
            deps.db, self.character_id, self.suggestion_id, member.user.id
        )
        message = interaction.message
        if message is None or interaction.channel_id is None:
            await give_back(deps.db, suggestion)
            raise NotFoundError("suggestion")
        applied = deps.catalog.t(
            member.lang,
            "conversation.applied",
            who=f"<@{suggestion.suggested_by}>",
            text=clip(suggestion.text, 500),
            owner=interaction.user.mention,
        )

        async def started() -> None:
            await interaction.edit_original_response(
                content=applied, view=None, allowed_mentions=NO_MENTIONS
            )

        request = VariantRequest(
            user_id=member.user.id,
            character_id=self.character_id,
            instruction=suggestion.text,
            theme_name=suggestion.theme,
            source_variant_id=suggestion.source_variant_id,
            from_portrait=suggestion.from_portrait,
            conversation_id=str(interaction.channel_id),
            instruction_message_id=str(message.id),
            suggested_by=suggestion.suggested_by,
        )
        try:
            await run_edit(interaction.client, message, member.lang, request, started)
        except DomainError:
            await give_back(deps.db, suggestion)
            raise


def apply_view(
    catalog: Catalog, lang: str, character_id: str, suggestion_id: str
) -> discord.ui.View:
    """The Apply button of a suggestion."""
    view = discord.ui.View(timeout=None)
    view.add_item(ApplyButton(character_id, suggestion_id, label=catalog.t(lang, "button.apply")))
    return view


async def suggest(
    deps: Deps, message: discord.Message, target: ConversationTarget, instruction: Instruction
) -> None:
    """Another member's instruction: kept as a suggestion the owner can apply."""
    lang = target.owner_language
    try:
        suggestion = await add_suggestion(
            deps.db,
            target.character_id,
            text=instruction.text,
            theme=instruction.theme,
            suggested_by=message.author.id,
            source=target.source,
        )
    except DomainError as exc:
        await message.reply(
            content=localize_error(deps.catalog, lang, exc), allowed_mentions=NO_MENTIONS
        )
        return
    text = deps.catalog.t(
        lang,
        "conversation.suggestion",
        who=message.author.mention,
        text=clip(suggestion.text, 500),
    )
    view = apply_view(deps.catalog, lang, target.character_id, suggestion.id)
    await message.reply(content=text, view=view, allowed_mentions=NO_MENTIONS)
