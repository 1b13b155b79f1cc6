"""The buttons under a scene: Favorite, Publish, Regenerate (the same cast drawn again, one
unit) and Export image; and the delete confirmation. Persistent: the custom_id carries the
scene's id (checked by the template, so a forged id is no more than a scene not found)."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import discord

from bot.i18n import Catalog
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import Caller, caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, deliver, respond, update
from bot.interactions.routing import ConfirmButton, FeatureButton
from bot.services import scenes
from bot.services.scenes import SceneRequest
from bot.ui.text import button_label, clip
from cogs.characters.generating import generate, image_file, image_filename
from cogs.scenes.views import scene_embed
from db.scene_models import Scene

_ID = r"[0-9a-f-]{36}"


def _style(item: discord.ui.Item[Any]) -> discord.ButtonStyle:
    if isinstance(item, discord.ui.Button):
        return item.style
    return discord.ButtonStyle.secondary


class SceneButton(FeatureButton, template=rf"scene:(?P<id>{_ID}):(?P<action>fav|pub|regen|exp)"):
    """One of a scene's buttons: ``scene:<scene id>:<action>``."""

    def __init__(
        self,
        scene_id: str,
        action: str,
        *,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        emoji: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or None,
                style=style,
                emoji=emoji,
                custom_id=f"scene:{scene_id}:{action}",
                disabled=disabled,
            )
        )
        self.scene_id = scene_id
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SceneButton:
        return cls(match["id"], match["action"], label=button_label(item), style=_style(item))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Favorite and Publish flip on the message; Regenerate draws it again in place;
        Export sends the image privately (the owner, or anyone when it is public)."""
        deps = deps_of(interaction.client)
        if self.action in ("fav", "pub"):
            await acknowledge(interaction, directly=True)  # before any database work
            member = await caller(interaction)
            if self.action == "fav":
                view = await scenes.toggle_favorite(deps.db, self.scene_id, member.user.id)
            else:
                shown = await scenes.owned_scene(deps.db, self.scene_id, member.user.id)
                view = await scenes.set_public(
                    deps.db, self.scene_id, member.user.id, not shown.scene.is_public
                )
            await update(interaction, view=scene_buttons(deps.catalog, member.lang, view.scene))
            return
        if self.action == "regen":
            await regenerate_in_place(interaction, self.scene_id)
            return
        await acknowledge(interaction)  # the download may take a moment
        member = await caller(interaction)
        data, mime = await scenes.scene_image(deps.db, deps.storage, self.scene_id, member.user.id)
        await respond(
            interaction,
            files=image_file(data, mime, "scene")(),
            allowed_mentions=NO_MENTIONS,
        )


async def regenerate_in_place(interaction: discord.Interaction[Any], scene_id: str) -> None:
    """Regenerate: the buttons are disabled while the scene is drawn again (its stages shown
    on the message), then the message shows it; on failure they come back."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the result to be shown
    member = await caller(interaction)
    lang = member.lang
    view = await scenes.owned_scene(deps.db, scene_id, member.user.id)
    await update(interaction, view=scene_buttons(deps.catalog, lang, view.scene, disabled=True))
    request = SceneRequest(
        user_id=member.user.id, characters="", setting="", guild_id=interaction.guild_id
    )
    try:
        outcome = await generate(
            interaction,
            lang,
            lambda progress: scenes.create_scene(
                deps.pipeline.runner, deps.pipeline.images, request, progress, scene_id=scene_id
            ),
        )
    except BaseException:
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(
                content=None, view=scene_buttons(deps.catalog, lang, view.scene)
            )
        raise
    await deliver(
        interaction,
        content=None,
        embed=scene_embed(
            deps.catalog,
            lang,
            outcome.view,
            image_filename=image_filename(outcome.mime_type, "scene"),
        ),
        view=scene_buttons(deps.catalog, lang, outcome.view.scene),
        files=image_file(outcome.image, outcome.mime_type, "scene"),
    )


def scene_buttons(
    catalog: Catalog, lang: str, scene: Scene, *, disabled: bool = False
) -> discord.ui.View:
    """The buttons under a scene's message, reflecting its marks."""
    t = catalog.t
    on, off = discord.ButtonStyle.success, discord.ButtonStyle.secondary
    favorite = scenes.is_favorite(scene)
    view = discord.ui.View(timeout=None)
    for button in (
        SceneButton(
            scene.id,
            "fav",
            label=t(lang, "button.unfavorite" if favorite else "button.favorite"),
            emoji="⭐",
            style=on if favorite else off,
        ),
        SceneButton(
            scene.id,
            "pub",
            label=t(lang, "button.unpublish" if scene.is_public else "button.publish"),
            emoji="🌐",
            style=on if scene.is_public else off,
        ),
        SceneButton(scene.id, "regen", label=t(lang, "button.regenerate"), emoji="🔄"),
        SceneButton(scene.id, "exp", label=t(lang, "scene.export_image"), emoji="📦"),
    ):
        button.item.disabled = disabled
        view.add_item(button)
    return view


class ConfirmSceneDeleteButton(
    ConfirmButton, template=rf"scenedel:(?P<id>{_ID}):(?P<answer>yes|no)"
):
    """Confirm or cancel /scene delete."""

    prefix = "scenedel"

    async def confirmed(self, interaction: discord.Interaction[Any], member: Caller) -> None:
        """Delete the scene and its images."""
        deps = deps_of(interaction.client)
        t = deps.catalog.t
        name = await scenes.delete_scene(deps.db, deps.storage, self.target_id, member.user.id)
        await update(
            interaction,
            content=t(member.lang, "scene.deleted", title=clip(name, 100)),
            view=None,
            allowed_mentions=NO_MENTIONS,
        )
