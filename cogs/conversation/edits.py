"""An edit run in a conversation: its progress as a reply (with Cancel), then the variant posted
there with its buttons and remembered as that message; a cancel or failure said on the reply."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import discord

from bot.interactions.deps import Deps, deps_of
from bot.services.conversation.variants import record_variant_message
from bot.services.generation.model import Outcome, VariantRequest
from bot.ui.embeds import variant_embed
from bot.ui.text import clip
from cogs.characters.generating import image_file, image_filename
from cogs.conversation.buttons import variant_view
from cogs.conversation.progress import ReplyProgress, settled_edit

log = logging.getLogger(__name__)


async def _post(
    deps: Deps, progress: ReplyProgress, lang: str, outcome: Outcome, suggested_by: str | None
) -> None:
    variant, theme = outcome.variant, outcome.theme
    if variant is None or theme is None:  # pragma: no cover - a variant outcome has both
        return
    content = deps.catalog.t(lang, "variant.created", theme=clip(theme.name, 50))
    if suggested_by:
        who = f"<@{suggested_by}>"
        content += "\n" + deps.catalog.t(lang, "conversation.suggested_by", who=who)
    if progress.message is not None:  # known before it shows the variant: replies chain
        await record_variant_message(
            deps.db,
            variant.id,
            channel_id=progress.message.channel.id,
            message_id=progress.message.id,
        )
    posted = await progress.finish(
        content=content,
        embed=variant_embed(
            deps.catalog,
            lang,
            outcome.character,
            theme,
            variant,
            image_filename=image_filename(outcome.mime_type, "variant"),
        ),
        attachments=image_file(outcome.image, outcome.mime_type, "variant")(),
        view=variant_view(deps.catalog, lang, variant),
    )
    if progress.message is None or posted.id != progress.message.id:
        await record_variant_message(
            deps.db, variant.id, channel_id=posted.channel.id, message_id=posted.id
        )


async def run_edit(
    client: discord.Client,
    reply_to: discord.Message,
    lang: str,
    request: VariantRequest,
    on_started: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run an edit with its progress as a reply to ``reply_to``, then post the variant there.

    What goes wrong once the generation exists is said on the progress reply (cancelled,
    failed and refunded); a refusal before that (quota, account, input) is raised.

    Raises: DomainError (refused before anything was charged or posted).
    """
    deps = deps_of(client)
    deps.flows.track()  # shutdown waits for the post, not only the generation
    catalog = deps.catalog
    progress = ReplyProgress(catalog, lang, reply_to, on_started)
    outcome = await settled_edit(
        progress, catalog, lang, lambda: deps.pipeline.edit_image(request, progress)
    )
    if outcome is None:
        return
    await _post(deps, progress, lang, outcome, request.suggested_by)
