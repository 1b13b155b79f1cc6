"""/scene create as members meet it: acknowledged at once, its stages (with Cancel) shown in
the response, then the scene posted with its buttons and a thread that is its conversation."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import discord

from bot.interactions.caller import Caller, caller
from bot.interactions.deps import deps_of
from bot.interactions.placement import open_thread
from bot.interactions.replies import NO_MENTIONS, deliver
from bot.services import scenes
from bot.services.scenes import SceneOutcome, SceneRequest
from bot.ui.text import clip
from cogs.characters.generating import defer, generate, image_file, image_filename
from cogs.scenes.buttons import scene_buttons
from cogs.scenes.views import scene_embed

log = logging.getLogger(__name__)


async def post_scene(
    interaction: discord.Interaction[Any], member: Caller, outcome: SceneOutcome
) -> discord.Message:
    """Show the new scene with its buttons (no one pinged: owners are named, not mentioned);
    open its thread and remember both."""
    deps = deps_of(interaction.client)
    t = deps.catalog.t
    lang = member.lang
    view = outcome.view
    title = view.scene.title or view.scene.setting
    message = await deliver(
        interaction,
        content=t(lang, "scene.created", title=clip(title, 100)),
        embed=scene_embed(
            deps.catalog, lang, view, image_filename=image_filename(outcome.mime_type, "scene")
        ),
        view=scene_buttons(deps.catalog, lang, view.scene),
        files=image_file(outcome.image, outcome.mime_type, "scene"),
    )
    thread = await open_thread(interaction, message, title or "Scene")
    in_dm = isinstance(interaction.channel, discord.DMChannel)  # the DM is the conversation
    await scenes.record_scene_message(
        deps.db,
        view.scene.id,
        channel_id=message.channel.id,
        message_id=message.id,
        thread_id=thread.id if thread else (message.channel.id if in_dm else None),
    )
    if thread is not None:
        with contextlib.suppress(discord.HTTPException):
            await thread.send(
                t(lang, "scene.thread_welcome", title=clip(title, 100)),
                allowed_mentions=NO_MENTIONS,
            )
    return message


async def create_flow(
    interaction: discord.Interaction[Any],
    *,
    characters: str,
    setting: str,
    style: str | None,
    title: str | None,
) -> None:
    """/scene create, from defer to thread. A refusal (the cast, the quota) is raised before
    anything is charged."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the post, not only the generation
    await defer(interaction, public=True)
    member = await caller(interaction)
    request = SceneRequest(
        user_id=member.user.id,
        characters=characters,
        setting=setting,
        style=style,
        title=title,
        guild_id=interaction.guild_id,
    )
    outcome = await generate(
        interaction,
        member.lang,
        lambda progress: scenes.create_scene(
            deps.pipeline.runner, deps.pipeline.images, request, progress
        ),
    )
    await post_scene(interaction, member, outcome)
