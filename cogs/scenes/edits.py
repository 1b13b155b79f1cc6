"""An edit in a scene's conversation (its thread): the progress as a reply (with Cancel), then
the scene variant posted there and remembered as that message (a reply to it edits that
image); a cancel or failure said on the reply. The conversation feature's listener hands the
scene's owner's instructions here (:mod:`cogs.conversation.talk`)."""

from __future__ import annotations

import logging

import discord

from bot.interactions.deps import deps_of
from bot.services import scenes
from bot.services.scenes import SceneVariantRequest
from cogs.characters.generating import image_file, image_filename
from cogs.conversation.progress import ReplyProgress, settled_edit
from cogs.scenes.views import scene_variant_embed

log = logging.getLogger(__name__)


async def run_scene_edit(
    client: discord.Client, reply_to: discord.Message, lang: str, request: SceneVariantRequest
) -> None:
    """Run a scene edit with its progress as a reply to ``reply_to``, then post the variant.

    Raises: DomainError (refused before anything was charged or posted).
    """
    deps = deps_of(client)
    deps.flows.track()  # shutdown waits for the post, not only the generation
    catalog = deps.catalog
    progress = ReplyProgress(catalog, lang, reply_to)
    turn = None
    if request.conversation_id is not None:
        turn = deps.pipeline.turns.turn(
            request.conversation_id, request.user_id, lambda pos: progress("queued", pos)
        )
    outcome = await settled_edit(
        progress,
        catalog,
        lang,
        lambda: scenes.create_scene_variant(
            deps.pipeline.runner, deps.pipeline.images, request, progress, turn=turn
        ),
    )
    if outcome is None:
        return
    variant = outcome.variant
    if variant is None:  # pragma: no cover - a variant outcome has one
        return
    if progress.message is not None:  # known before it shows the variant: replies chain
        await scenes.record_variant_message(
            deps.db,
            variant.id,
            channel_id=progress.message.channel.id,
            message_id=progress.message.id,
        )
    posted = await progress.finish(
        content=catalog.t(lang, "scene.variant_created"),
        embed=scene_variant_embed(
            catalog,
            lang,
            outcome.view,
            variant,
            image_filename=image_filename(outcome.mime_type, "scene-variant"),
        ),
        attachments=image_file(outcome.image, outcome.mime_type, "scene-variant")(),
        view=None,
    )
    if progress.message is None or posted.id != progress.message.id:
        await scenes.record_variant_message(
            deps.db, variant.id, channel_id=posted.channel.id, message_id=posted.id
        )
