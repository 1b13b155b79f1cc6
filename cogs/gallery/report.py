"""The Report button on gallery cards and showcase posts: its modal (the reason), the member's
private confirmation, and the report's post in the guild's log channel.

The button's custom_id carries the character's id (``report:<id>``), so it works after a
restart and on any process. A press checks at once what the report would refuse (your own
character, one no longer in the gallery, a report of yours still open) before asking why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.i18n import Catalog, choose_language
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureButton, FeatureModal
from bot.services import reports
from bot.services.gallery import GalleryEntry
from bot.services.reports import FiledReport
from bot.ui.reports import report_log_embed
from bot.ui.text import BUTTON_LABEL_MAX, MODAL_TITLE_MAX, clip

log = logging.getLogger(__name__)

REPORT_EMOJI = "🚩"
_NAME_IN_LABEL = 30


class ReportButton(FeatureButton, template=r"report:(?P<id>[A-Za-z0-9_-]{1,64})"):
    """Report this character: ``report:<character id>``."""

    def __init__(self, character_id: str, *, label: str, row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=clip(label, BUTTON_LABEL_MAX) or None,
                emoji=REPORT_EMOJI,
                style=discord.ButtonStyle.secondary,
                custom_id=f"report:{character_id}",
                row=row,
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
    ) -> ReportButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(match["id"], label=label or "")

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Refuse at once what cannot be reported; else ask for the reason."""
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        await reports.check_reportable(deps.db, self.character_id, member.user.id)
        await interaction.response.send_modal(
            ReportModal(deps.catalog, member.lang, self.character_id)
        )


class ReportModal(FeatureModal):
    """Why the member reports the character (1–500 characters); the submission files it."""

    def __init__(self, catalog: Catalog, lang: str, character_id: str) -> None:
        super().__init__(
            title=clip(catalog.t(lang, "reports.modal_title"), MODAL_TITLE_MAX),
            custom_id=f"reportmodal:{character_id}",
            timeout=900,
        )
        self.character_id = character_id
        self.reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(catalog.t(lang, "reports.reason_label"), MODAL_TITLE_MAX),
            custom_id="reason",
            placeholder=clip(catalog.t(lang, "reports.reason_hint"), 100),
            style=discord.TextStyle.paragraph,
            min_length=1,
            max_length=reports.MAX_REASON,
            required=True,
        )
        self.add_item(self.reason)

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """File the report, thank the member privately, then tell the guild's log channel."""
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        filed = await reports.file_report(
            deps.db,
            character_id=self.character_id,
            reporter_user_id=member.user.id,
            guild_id=interaction.guild_id,
            reason=self.reason.value,
        )
        name = clip(filed.character_name or deps.catalog.t(member.lang, "character.unnamed"), 100)
        await respond(interaction, deps.catalog.t(member.lang, "reports.filed", name=name))
        await post_to_log_channel(interaction, filed)


def _jump_url(interaction: discord.Interaction[Any]) -> str | None:
    """The reported post's link, when the report came from a message others can open (a
    showcase post; a gallery page is private to the member who browsed it)."""
    message = interaction.message
    if message is None or message.flags.ephemeral or interaction.guild_id is None:
        return None
    return message.jump_url


async def post_to_log_channel(interaction: discord.Interaction[Any], filed: FiledReport) -> None:
    """Post the report in the guild's log channel, in the guild's language, pinging no one.
    Best effort: a refused post is logged and the report stands."""
    if filed.log_channel_id is None or interaction.guild_id is None:
        return
    client: discord.Client = interaction.client
    deps = deps_of(client)
    lang = choose_language(None, interaction.guild_locale)
    embed = report_log_embed(
        deps.catalog,
        lang,
        character_name=filed.character_name,
        character_id=filed.character_id,
        reason=filed.reason,
        reporter_name=interaction.user.display_name,
        jump_url=_jump_url(interaction),
    )
    channel = client.get_partial_messageable(filed.log_channel_id, guild_id=interaction.guild_id)
    try:
        await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:
        log.warning(
            "could not post report %s to log channel %s (HTTP %s)",
            filed.id,
            filed.log_channel_id,
            exc.status,
        )


def report_view(catalog: Catalog, lang: str, character_id: str) -> discord.ui.View:
    """A showcase post's Report button."""
    view = discord.ui.View(timeout=None)
    view.add_item(ReportButton(character_id, label=catalog.t(lang, "reports.button")))
    return view


def add_report_buttons(
    view: discord.ui.View,
    catalog: Catalog,
    lang: str,
    viewer_user_id: str,
    entries: Sequence[GalleryEntry],
) -> discord.ui.View:
    """A gallery page's Report buttons, one per card (in the cards' order) under the pager;
    none for the viewer's own characters."""
    for entry in entries[:5]:
        if entry.creator_id == viewer_user_id:
            continue
        name = clip(entry.character.name or catalog.t(lang, "character.unnamed"), _NAME_IN_LABEL)
        label = catalog.t(lang, "reports.button_named", name=name)
        view.add_item(ReportButton(entry.character.id, label=label, row=1))
    return view
