"""/character …: create, show, list, edit, regenerate, sheet, delete, publish, unpublish,
export, import and say; and the extension's setup, which registers the characters' persistent
buttons and context menus."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.interactions.caller import caller
from bot.interactions.deps import Deps
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services import characters, remix
from bot.services.exporting import FORMATS, CardFormat
from bot.storage.pictures import picture
from bot.ui.embeds import character_embed, picture_files
from cogs.characters import flows
from cogs.characters.buttons import CharacterButton, character_view
from cogs.characters.export import send_export
from cogs.characters.from_picture import MakeFromPictureButton
from cogs.characters.listing import CharacterListButton, ConfirmDeleteButton, character_list_message
from cogs.characters.menus import context_menus
from cogs.characters.modals import EditCharacterModal
from cogs.characters.say import say_flow
from cogs.characters.sheet import sheet_flow
from cogs.common import STYLE_CHOICES, character_autocomplete
from cogs.gallery.showcase import sync_showcase

EXPORT_CHOICES = [
    app_commands.Choice(name=_("Character Card V2 (JSON and PNG)"), value="card_v2"),
    app_commands.Choice(name=_("Character Card V3 (PNG with every variant)"), value="card_v3"),
    app_commands.Choice(name=_("CHARX (zip with every variant)"), value="charx"),
]
FILTER_CHOICES = [
    app_commands.Choice(name=_("All"), value="all"),
    app_commands.Choice(name=_("Favorites"), value="favorites"),
    app_commands.Choice(name=_("Library"), value="library"),
]


class Characters(FeatureCog):
    """The /character commands."""

    character = app_commands.Group(
        name=_("character"), description=_("Create and manage your characters")
    )

    # -- commands ---------------------------------------------------------------------------

    @character.command(
        name=_("create"),
        description=_("Create a character from a description"),
        extras=SELF_ACKNOWLEDGING,
    )
    @app_commands.describe(
        description=_("Who is the character? Looks, personality, anything"),
        name=_("The character's name (made up if left out)"),
        style=_("Art style"),
        gender=_("Gender"),
        age=_("Age"),
        reference=_("A reference image (PNG, JPEG, WebP or GIF, up to 10 MB)"),
    )
    @app_commands.choices(style=STYLE_CHOICES)
    async def create(
        self,
        interaction: discord.Interaction[Any],
        description: app_commands.Range[str, 1, 2000],
        name: app_commands.Range[str, 1, 100] | None = None,
        style: app_commands.Choice[str] | None = None,
        gender: app_commands.Range[str, 1, 50] | None = None,
        age: app_commands.Range[str, 1, 50] | None = None,
        reference: discord.Attachment | None = None,
    ) -> None:
        """Create a character from a description."""
        await flows.create_flow(
            interaction,
            description=description,
            name=name,
            style=style.value if style else "realistic",
            gender=gender,
            age=age,
            reference=reference,
        )

    @character.command(name=_("show"), description=_("Show one of your characters"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def show(self, interaction: discord.Interaction[Any], character: str) -> None:
        """Show one of your characters."""
        member = await caller(interaction)
        row = await characters.visible_character(self.deps.db, character, member.user.id)
        shown = await picture(self.deps.storage, row, name="portrait")
        remixes = await remix.remix_count(self.deps.db, row.id)
        embed = character_embed(self.deps.catalog, member.lang, row, picture=shown, remixes=remixes)
        view = character_view(self.deps.catalog, member.lang, row)
        await respond(
            interaction,
            embed=embed,
            view=view if row.user_id == member.user.id else discord.utils.MISSING,
            files=picture_files([shown]) or discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
        )

    @character.command(name=_("list"), description=_("List your characters"))
    @app_commands.describe(filter=_("Which characters"))
    @app_commands.choices(filter=FILTER_CHOICES)
    async def list_(
        self,
        interaction: discord.Interaction[Any],
        filter: app_commands.Choice[str] | None = None,
    ) -> None:
        """List your characters."""
        member = await caller(interaction)
        embed, view = await character_list_message(
            interaction, member, filter.value if filter else "all", None
        )
        await respond(interaction, embed=embed, view=view, allowed_mentions=NO_MENTIONS)

    @character.command(
        name=_("edit"), description=_("Edit a character's details"), extras=SELF_ACKNOWLEDGING
    )
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def edit(self, interaction: discord.Interaction[Any], character: str) -> None:
        """Edit a character's details."""
        member = await caller(interaction)
        row = await characters.owned_character(self.deps.db, character, member.user.id)
        await interaction.response.send_modal(
            EditCharacterModal(self.deps.catalog, member.lang, row)
        )

    @character.command(
        name=_("regenerate"),
        description=_("Draw a character's portrait again"),
        extras=SELF_ACKNOWLEDGING,
    )
    @app_commands.describe(character=_("The character"), instruction=_("What to change (optional)"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def regenerate(
        self,
        interaction: discord.Interaction[Any],
        character: str,
        instruction: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        """Draw a character's portrait again."""
        await flows.regenerate_flow(interaction, character, instruction)

    @character.command(
        name=_("sheet"),
        description=_("Draw a character sheet: front, side, back and four expressions"),
        extras=SELF_ACKNOWLEDGING,
    )
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def sheet(self, interaction: discord.Interaction[Any], character: str) -> None:
        """Draw a character sheet, kept as a reference for later variants."""
        await sheet_flow(interaction, character)

    @character.command(name=_("delete"), description=_("Delete a character"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def delete(self, interaction: discord.Interaction[Any], character: str) -> None:
        """Delete a character (asks to confirm)."""
        member = await caller(interaction)
        catalog = self.deps.catalog
        row = await characters.owned_character(self.deps.db, character, member.user.id)
        view = discord.ui.View(timeout=None)
        view.add_item(ConfirmDeleteButton.make(catalog, member.lang, row.id, confirm=True))
        view.add_item(ConfirmDeleteButton.make(catalog, member.lang, row.id, confirm=False))
        await respond(
            interaction,
            catalog.t(member.lang, "delete.confirm", name=row.name or row.id[:8]),
            view=view,
            allowed_mentions=NO_MENTIONS,
        )

    @character.command(name=_("publish"), description=_("Show a character in the public gallery"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def publish(self, interaction: discord.Interaction[Any], character: str) -> None:
        """Show a character in the public gallery."""
        await self._set_public(interaction, character, True)

    @character.command(name=_("unpublish"), description=_("Remove a character from the gallery"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def unpublish(self, interaction: discord.Interaction[Any], character: str) -> None:
        """Remove a character from the gallery."""
        await self._set_public(interaction, character, False)

    @character.command(name=_("export"), description=_("Download a character as a Character Card"))
    @app_commands.describe(
        character=_("The character"), format=_("Card format (Character Card V2 if left out)")
    )
    @app_commands.autocomplete(character=character_autocomplete)
    @app_commands.choices(format=EXPORT_CHOICES)
    async def export(
        self,
        interaction: discord.Interaction[Any],
        character: str,
        format: app_commands.Choice[str] | None = None,
    ) -> None:
        """Download a character as a Character Card: V2 (JSON and PNG), V3 (PNG) or CHARX."""
        fmt: CardFormat = next((f for f in FORMATS if format and f == format.value), "card_v2")
        await send_export(interaction, character, fmt)

    @character.command(
        name=_("import"),
        description=_("Create a character from a Character Card"),
        extras=SELF_ACKNOWLEDGING,
    )
    @app_commands.describe(card=_("A Character Card: PNG (V1/V2/V3), JSON or .charx"))
    async def import_(
        self, interaction: discord.Interaction[Any], card: discord.Attachment
    ) -> None:
        """Create a character from a Character Card (no quota used)."""
        await flows.import_flow(interaction, card)

    @character.command(name=_("say"), description=_("Speak as your character in this channel"))
    @app_commands.describe(character=_("The character"), text=_("What the character says"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def say(
        self,
        interaction: discord.Interaction[Any],
        character: str,
        text: app_commands.Range[str, 1, 2000],
    ) -> None:
        """Post the text in this channel or thread as the character (needs Manage Webhooks)."""
        await say_flow(interaction, character, text)

    # -- shared actions ---------------------------------------------------------------------

    async def _set_public(
        self, interaction: discord.Interaction[Any], character_id: str, public: bool
    ) -> None:
        member = await caller(interaction)
        t = self.deps.catalog.t
        row = await characters.change_flag(
            self.deps.db, character_id, member.user.id, "is_public", public
        )
        await sync_showcase(interaction, row)
        key = "publish.done" if public else "unpublish.done"
        extra = ""
        if public and not member.user.allow_gallery_showcase:
            settings = self.deps.command_ids.mention("settings")
            extra = "\n" + t(member.lang, "publish.showcase_off", settings=settings)
        await respond(interaction, t(member.lang, key, name=row.name or "") + extra)


def provide(deps: Deps) -> None:
    """What the feature hands to the rest of the bot, also where no cog runs (``charbot
    worker``): the buttons under a character's card."""
    deps.provided.card_buttons = character_view


async def setup(bot: commands.Bot) -> None:
    """Load the cog and the characters' persistent buttons."""
    deps = getattr(bot, "deps", None)
    if isinstance(deps, Deps):  # a bot loaded only to read its commands has none
        provide(deps)
    bot.add_dynamic_items(
        CharacterButton, CharacterListButton, ConfirmDeleteButton, MakeFromPictureButton
    )
    await bot.add_cog(Characters(bot))
    for menu in context_menus():
        bot.tree.add_command(menu)
