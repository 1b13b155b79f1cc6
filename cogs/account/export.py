"""/account export's delivery: the member's data as files they alone see, sized to the upload
limit of the interaction (Discord sends it as ``attachment_size_limit``; discord.py 2.5+ reads
it into ``Interaction.filesize_limit``)."""

from __future__ import annotations

from typing import Any

import discord

from bot.interactions.caller import Caller
from bot.interactions.deps import Deps
from bot.interactions.replies import NO_MENTIONS, respond
from bot.services.member_data import ExportPackage, export_member
from bot.ui.embeds import relative
from bot.ui.files import file_of

FALLBACK_UPLOAD_LIMIT = 8 * 1024 * 1024
"""Discord's smallest upload limit of the past, when the interaction does not say its own."""


def upload_limit(interaction: discord.Interaction[Any]) -> int:
    """The most bytes one file may have in an answer to this interaction."""
    limit = getattr(interaction, "filesize_limit", None)
    return int(limit) if isinstance(limit, int) and limit > 0 else FALLBACK_UPLOAD_LIMIT


def export_text(deps: Deps, lang: str, package: ExportPackage, limit: int) -> str:
    """What the reply says about the files it carries."""
    t = deps.catalog.t
    limit_mb = f"{limit / 1048576:.0f}"
    if package.mode == "links" and package.links_expire_at is not None:
        text = t(
            lang,
            "account.export_links",
            rows=package.row_count,
            images=package.image_count,
            limit=limit_mb,
            expires=relative(package.links_expire_at),
        )
    elif package.mode == "parts":
        text = t(
            lang,
            "account.export_parts",
            rows=package.row_count,
            images=package.image_count,
            parts=len(package.files),
            limit=limit_mb,
        )
    else:
        text = t(lang, "account.export_zip", rows=package.row_count, images=package.image_count)
    if package.left_out:
        text += "\n" + t(lang, "account.export_left_out", count=len(package.left_out))
    return text


async def send_export(interaction: discord.Interaction[Any], deps: Deps, member: Caller) -> None:
    """Collect, pack and send the member's export privately (several messages for parts)."""
    limit = upload_limit(interaction)
    package = await export_member(deps.db, deps.storage, member.user.id, interaction.user.id, limit)
    first, *rest = package.files
    await respond(
        interaction,
        export_text(deps, member.lang, package, limit),
        file=file_of(first.data, first.filename),
        allowed_mentions=NO_MENTIONS,
    )
    for part in rest:
        await interaction.followup.send(
            file=file_of(part.data, part.filename),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
