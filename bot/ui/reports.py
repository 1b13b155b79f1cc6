"""Reports as moderators see them: the post in a guild's log channel, the queue page of
/mod reports, and the line that says what resolving a report did. Pure: data in, embeds and
text out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.services.report_queue import QueuedReport, ReportQueue, Resolution
from bot.storage.pictures import Picture
from bot.ui.embeds import relative, show_image
from bot.ui.text import clip, fit_embed

if TYPE_CHECKING:
    from bot.i18n import Catalog

REPORT_COLOUR = 0xED4245


def _character_line(name: str, character_id: str) -> str:
    return f"**{clip(name, 100)}** · `{character_id}`"


def report_log_embed(
    catalog: Catalog,
    lang: str,
    *,
    character_name: str | None,
    character_id: str,
    reason: str,
    reporter_name: str,
    jump_url: str | None,
) -> discord.Embed:
    """A new report, as posted in the guild's log channel: the character (name and id), the
    reason, the reporter by name (never a mention), and a link to the reported post when
    there is one to jump to."""
    t = catalog.t
    name = character_name or t(lang, "character.unnamed")
    embed = discord.Embed(
        title=t(lang, "reports.log_title", name=clip(name, 100)),
        description=clip(reason, 1000),
        colour=REPORT_COLOUR,
        url=jump_url or None,
    )
    embed.add_field(
        name=t(lang, "reports.character"), value=_character_line(name, character_id), inline=False
    )
    embed.add_field(name=t(lang, "reports.reporter"), value=clip(reporter_name, 100), inline=True)
    if jump_url:
        embed.add_field(
            name=t(lang, "reports.where"),
            value=f"[{t(lang, 'reports.jump')}]({jump_url})",
            inline=True,
        )
    return fit_embed(embed)


def _report_embed(
    catalog: Catalog, lang: str, queue: ReportQueue, item: QueuedReport, shown: Picture | None
) -> discord.Embed:
    t = catalog.t
    character = item.character
    name = character.name or t(lang, "character.unnamed")
    embed = discord.Embed(
        title=t(lang, "reports.title", count=queue.open_total),
        description=clip(item.reason, 1000),
        colour=REPORT_COLOUR,
    )
    embed.add_field(
        name=t(lang, "reports.character"), value=_character_line(name, character.id), inline=False
    )
    embed.add_field(name=t(lang, "reports.owner"), value=clip(item.owner_name, 100), inline=True)
    embed.add_field(
        name=t(lang, "reports.reporter"), value=clip(item.reporter_name, 100), inline=True
    )
    embed.add_field(name=t(lang, "reports.when"), value=relative(item.created_at), inline=True)
    embed.add_field(
        name=t(lang, "reports.open_on_character"), value=str(item.open_on_character), inline=True
    )
    if not character.is_public:
        embed.add_field(
            name=t(lang, "reports.status"), value=t(lang, "reports.not_public_now"), inline=True
        )
    show_image(embed, None, shown, character.thumbnail_url or character.image_url)
    embed.set_footer(text=t(lang, "reports.footer", id=item.id))
    return fit_embed(embed)


def queue_embed(
    catalog: Catalog, lang: str, queue: ReportQueue, shown: Picture | None = None
) -> discord.Embed:
    """The queue's page: its report in full (``shown`` its character's picture), or a note
    that no report is open."""
    if not queue.page.items:
        return discord.Embed(
            title=catalog.t(lang, "reports.title", count=0),
            description=catalog.t(lang, "reports.empty"),
            colour=REPORT_COLOUR,
        )
    return _report_embed(catalog, lang, queue, queue.page.items[0], shown)


def resolution_text(
    catalog: Catalog, lang: str, resolution: Resolution, *, owner_dm_sent: bool
) -> str:
    """What pressing Dismiss or Unpublish did, for the line above the next report."""
    t = catalog.t
    name = clip(resolution.character_name or t(lang, "character.unnamed"), 100)
    if resolution.outcome == "dismissed":
        return t(lang, "reports.dismissed", name=name)
    if resolution.unpublished is None:
        return t(lang, "reports.already_private", name=name, count=resolution.closed)
    key = "reports.unpublished_dm" if owner_dm_sent else "reports.unpublished_notice"
    return t(lang, key, name=name, count=resolution.closed)
