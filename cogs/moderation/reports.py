"""/mod reports: the platform moderators' queue of open reports, one report a page (oldest
first), with Previous/Next and the Dismiss and Unpublish buttons.

Only platform moderators (``deps.platform_moderators``) see the queue or press its buttons;
every press checks again, so a forged custom_id from anyone else is refused and changes
nothing. A report someone else resolved meanwhile (or an id that was never one) gets a polite
note and the queue is shown afresh.

custom_ids: ``rqp:<n|p>:<cursor>`` (the pager), ``rq:<dismiss|unpublish>:<report id>``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import Caller, caller
from bot.interactions.deps import Deps, deps_of
from bot.interactions.replies import NO_MENTIONS, respond, update
from bot.interactions.routing import FeatureButton, PagerButton, pager_label, pager_view
from bot.services import moderation, report_queue
from bot.services.moderation import Moderator
from bot.services.report_queue import NotPlatformModeratorError, ReportClosedError, ReportQueue
from bot.storage.pictures import picture
from bot.ui.embeds import picture_files, replacing_attachments
from bot.ui.reports import queue_embed, resolution_text
from bot.ui.text import CUSTOM_ID_MAX, button_label, clip
from cogs.gallery.showcase import remove_showcase_posts
from cogs.moderation.access import is_platform_moderator
from cogs.moderation.announce import action_entry, notify_owner, post_to_log_channel

log = logging.getLogger(__name__)

_CURSOR_CHARS = r"[A-Za-z0-9_.~=-]{0,64}"


async def platform_moderator(interaction: discord.Interaction[Any]) -> Caller:
    """The member, when they moderate the whole platform (read first, so a refusal is in
    their language); else NotPlatformModeratorError."""
    member = await caller(interaction)
    if not is_platform_moderator(interaction):
        raise NotPlatformModeratorError()
    return member


async def _queue_message(
    deps: Deps, lang: str, queue: ReportQueue, content: str | None = None
) -> dict[str, Any]:
    """The queue page as message fields: the note, the report's embed (its character's picture
    attached when the images are local files), the pager and the two buttons."""
    items = queue.page.items
    shown = (
        await picture(deps.storage, items[0].character, name="reported", small=True)
        if items
        else None
    )
    view: discord.ui.View | None = None
    if items:
        t = deps.catalog.t
        view = pager_view(
            ReportPageButton,
            queue.page.prev_cursor,
            queue.page.next_cursor,
            t(lang, "button.previous"),
            t(lang, "button.next"),
        )
        report_id = items[0].id
        view.add_item(
            ReportActionButton(report_id, "dismiss", label=t(lang, "reports.dismiss_button"))
        )
        view.add_item(
            ReportActionButton(report_id, "unpublish", label=t(lang, "reports.unpublish_button"))
        )
    return {
        "content": content,
        "embed": queue_embed(deps.catalog, lang, queue, shown),
        "view": view,
        "files": picture_files([shown]),
    }


async def show_report_queue(interaction: discord.Interaction[Any]) -> None:
    """/mod reports: the first page of the open reports, privately."""
    member = await platform_moderator(interaction)
    deps = deps_of(interaction.client)
    message = await _queue_message(deps, member.lang, await report_queue.open_queue(deps.db))
    await respond(
        interaction,
        message["content"],
        embed=message["embed"],
        view=message["view"] or discord.utils.MISSING,
        files=message["files"] or discord.utils.MISSING,
        allowed_mentions=NO_MENTIONS,
    )


async def _as_update(
    interaction: discord.Interaction[Any], member: Caller, queue: ReportQueue, content: str | None
) -> dict[str, Any]:
    message = await _queue_message(deps_of(interaction.client), member.lang, queue, content)
    files = message.pop("files")
    return {**message, **replacing_attachments(files, interaction.message)}


class ReportPageButton(
    PagerButton, template=r"rqp:(?P<btn>[np]):(?P<cursor>" + _CURSOR_CHARS + r")"
):
    """Previous/Next of the report queue."""

    def __init__(self, cursor: str | None, *, forward: bool, label: str) -> None:
        custom_id = f"rqp:{'n' if forward else 'p'}:{cursor or ''}"
        super().__init__(
            custom_id if len(custom_id) <= CUSTOM_ID_MAX else None,
            forward=forward,
            label=label,
            enabled=cursor is not None,
            fallback=f"rqp:{'n' if forward else 'p'}:",
        )
        self.cursor = cursor

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ReportPageButton:
        forward = match["btn"] == "n"
        return cls(match["cursor"] or None, forward=forward, label=pager_label(item, forward))

    async def page(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        member = await platform_moderator(interaction)
        queue = await report_queue.open_queue(deps_of(interaction.client).db, self.cursor)
        return await _as_update(interaction, member, queue, None)


class ReportActionButton(
    FeatureButton,
    template=r"rq:(?P<action>dismiss|unpublish):(?P<id>[A-Za-z0-9_-]{1,64})",
):
    """Dismiss the report, or unpublish its character everywhere: ``rq:<action>:<id>``."""

    def __init__(self, report_id: str, action: str, *, label: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=clip(label, 80) or action,
                style=(
                    discord.ButtonStyle.danger
                    if action == "unpublish"
                    else discord.ButtonStyle.secondary
                ),
                custom_id=f"rq:{action}:{report_id}",
                row=1,
            )
        )
        self.report_id = report_id
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ReportActionButton:
        return cls(match["id"], match["action"], label=button_label(item))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Check the presser, resolve the report, then show the queue from where it was."""
        await acknowledge(interaction, directly=True)  # before any database work
        deps = deps_of(interaction.client)
        member = await platform_moderator(interaction)
        by = Moderator(interaction.guild_id, interaction.user.id, member.user.id)
        try:
            if self.action == "unpublish":
                resolution = await report_queue.unpublish_reported(deps.db, self.report_id, by)
            else:
                resolution = await report_queue.dismiss_report(deps.db, self.report_id, by)
        except ReportClosedError as closed:
            note = deps.catalog.t(member.lang, closed.key)
            queue = await report_queue.open_queue(deps.db)
            await update(interaction, **await _as_update(interaction, member, queue, note))
            return
        name = clip(
            resolution.character_name or deps.catalog.t(member.lang, "character.unnamed"), 100
        )
        dm_sent = False
        if resolution.outcome == "unpublished":
            await remove_showcase_posts(interaction.client, resolution.character_id)
            if resolution.unpublished is not None:
                dm_sent = await notify_owner(
                    interaction,
                    resolution.unpublished.owner,
                    moderation.UNPUBLISHED_NOTICE,
                    name,
                    resolution.reason,
                )
        action = "unpublish" if resolution.outcome == "unpublished" else "dismiss_report"
        character = (resolution.character_id, resolution.character_name)
        entry = action_entry(
            interaction, action, "platform", resolution.reason, character=character
        )
        await post_to_log_channel(interaction, entry)
        note = resolution_text(deps.catalog, member.lang, resolution, owner_dm_sent=dm_sent)
        queue = await report_queue.open_queue(deps.db, resolution.after)
        await update(interaction, **await _as_update(interaction, member, queue, note))


REPORT_QUEUE_ITEMS = (ReportPageButton, ReportActionButton)
"""The queue's persistent components, registered by the moderation cog."""
