"""/scene …: create, list, show, delete, publish, unpublish; and the extension's setup, which
registers the scenes' persistent buttons.

The ``characters`` option of /scene create is one comma-separated list (two to four ids, short
ids or names). Its autocomplete completes the list's last item with one of the member's
characters or a public one (the member's first) and keeps the earlier items, each completed
item filled in as its short id (the first eight characters of its id) so four fit Discord's
100-character option value."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.interactions.autocomplete import answers_itself
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services import scenes
from bot.services.scenes.model import MAX_SETTING, MAX_TITLE
from bot.storage.pictures import picture
from bot.ui.embeds import picture_files
from bot.ui.text import clip
from cogs.common import STYLE_CHOICES, own_choices
from cogs.scenes import flows
from cogs.scenes.buttons import ConfirmSceneDeleteButton, SceneButton, scene_buttons
from cogs.scenes.gallery import SceneGalleryButton
from cogs.scenes.listing import SceneListButton, scene_list_message
from cogs.scenes.views import scene_embed


@answers_itself
async def cast_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The last item of the comma-separated list, completed (see the module's docstring)."""
    db = deps_of(interaction.client).db
    guild_id = interaction.guild_id
    return await own_choices(
        interaction, lambda user_id: scenes.cast_choices(db, user_id, current[:100], guild_id)
    )


@answers_itself
async def scene_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The member's own scenes matching what they typed."""
    db = deps_of(interaction.client).db
    return await own_choices(
        interaction, lambda user_id: scenes.scene_choices(db, user_id, current[:100])
    )


class Scenes(FeatureCog):
    """The /scene commands."""

    scene = app_commands.Group(
        name=_("scene"), description=_("Put several characters together in one picture")
    )

    @scene.command(
        name=_("create"),
        description=_("Draw two to four characters together in a setting"),
        extras=SELF_ACKNOWLEDGING,
    )
    @app_commands.describe(
        characters=_("Two to four characters, separated by commas (yours or public ones)"),
        setting=_("Where they are and what happens"),
        style=_("Art style (the first character's when left out)"),
        title=_("A title for the scene"),
    )
    @app_commands.choices(style=STYLE_CHOICES)
    @app_commands.autocomplete(characters=cast_autocomplete)
    async def create(
        self,
        interaction: discord.Interaction[Any],
        characters: app_commands.Range[str, 1, 200],
        setting: app_commands.Range[str, 1, MAX_SETTING],
        style: app_commands.Choice[str] | None = None,
        title: app_commands.Range[str, 1, MAX_TITLE] | None = None,
    ) -> None:
        """Draw two to four characters together in a setting."""
        await flows.create_flow(
            interaction,
            characters=characters,
            setting=setting,
            style=style.value if style else None,
            title=title,
        )

    @scene.command(name=_("list"), description=_("List your scenes"))
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """List your scenes (newest first)."""
        member = await caller(interaction)
        embed, view = await scene_list_message(interaction, member, None)
        await respond(interaction, embed=embed, view=view, allowed_mentions=NO_MENTIONS)

    @scene.command(name=_("show"), description=_("Show one of your scenes"))
    @app_commands.describe(scene=_("The scene"))
    @app_commands.autocomplete(scene=scene_autocomplete)
    async def show(self, interaction: discord.Interaction[Any], scene: str) -> None:
        """Show a scene (yours, or a public one by id)."""
        member = await caller(interaction)
        view = await scenes.shown_scene(self.deps.db, scene, member.user.id)
        shown = await picture(self.deps.storage, view.scene, name="scene")
        own = view.scene.user_id == member.user.id
        await respond(
            interaction,
            embed=scene_embed(self.deps.catalog, member.lang, view, picture=shown),
            view=scene_buttons(self.deps.catalog, member.lang, view.scene)
            if own
            else discord.utils.MISSING,
            files=picture_files([shown]) or discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
        )

    @scene.command(name=_("delete"), description=_("Delete one of your scenes"))
    @app_commands.describe(scene=_("The scene"))
    @app_commands.autocomplete(scene=scene_autocomplete)
    async def delete(self, interaction: discord.Interaction[Any], scene: str) -> None:
        """Delete a scene (asks to confirm)."""
        member = await caller(interaction)
        catalog = self.deps.catalog
        view = await scenes.owned_scene(self.deps.db, scene, member.user.id)
        buttons = discord.ui.View(timeout=None)
        for confirm in (True, False):
            buttons.add_item(
                ConfirmSceneDeleteButton.make(catalog, member.lang, view.scene.id, confirm=confirm)
            )
        title = view.scene.title or view.scene.setting
        await respond(
            interaction,
            catalog.t(member.lang, "scene.delete_confirm", title=clip(title, 100)),
            view=buttons,
            allowed_mentions=NO_MENTIONS,
        )

    @scene.command(name=_("publish"), description=_("Show one of your scenes in the gallery"))
    @app_commands.describe(scene=_("The scene"))
    @app_commands.autocomplete(scene=scene_autocomplete)
    async def publish(self, interaction: discord.Interaction[Any], scene: str) -> None:
        """Publish a scene."""
        await self._set_public(interaction, scene, public=True)

    @scene.command(name=_("unpublish"), description=_("Take one of your scenes out of the gallery"))
    @app_commands.describe(scene=_("The scene"))
    @app_commands.autocomplete(scene=scene_autocomplete)
    async def unpublish(self, interaction: discord.Interaction[Any], scene: str) -> None:
        """Unpublish a scene."""
        await self._set_public(interaction, scene, public=False)

    async def _set_public(
        self, interaction: discord.Interaction[Any], scene: str, *, public: bool
    ) -> None:
        member = await caller(interaction)
        view = await scenes.set_public(self.deps.db, scene, member.user.id, public)
        key = "scene.published" if public else "scene.unpublished"
        title = view.scene.title or view.scene.setting
        await respond(
            interaction,
            self.deps.catalog.t(member.lang, key, title=clip(title, 100)),
            allowed_mentions=NO_MENTIONS,
        )


async def setup(client: commands.Bot) -> None:
    """Load the cog and the scenes' persistent buttons."""
    client.add_dynamic_items(
        SceneButton, ConfirmSceneDeleteButton, SceneGalleryButton, SceneListButton
    )
    await client.add_cog(Scenes(client))
