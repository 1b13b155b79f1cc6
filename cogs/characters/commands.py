"""/character …: create, show, list, edit, regenerate, delete, publish, unpublish, export,
import; and the character buttons."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.errors import NotOwnerError
from bot.interactions.acknowledge import acknowledge
from bot.interactions.replies import NO_MENTIONS, deliver, respond, update
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services import characters as characters_service
from bot.ui.embeds import character_embed
from cogs.characters import flows
from cogs.characters.buttons import OWNER_ACTIONS, character_view
from cogs.characters.listing import CharacterListButton, ConfirmDeleteButton, character_list_message
from cogs.characters.modals import EditCharacterModal, NewVariantModal
from cogs.common import STYLE_CHOICES, character_autocomplete
from cogs.gallery.showcase import sync_showcase

if TYPE_CHECKING:
    from bot.app import CharBot

log = logging.getLogger(__name__)

FILTER_CHOICES = [
    app_commands.Choice(name=_("All"), value="all"),
    app_commands.Choice(name=_("Favorites"), value="favorites"),
    app_commands.Choice(name=_("Library"), value="library"),
]


class Characters(commands.Cog):
    """Character commands and buttons."""

    character = app_commands.Group(
        name=_("character"), description=_("Create and manage your characters")
    )

    def __init__(self, bot: CharBot) -> None:
        self.bot = bot

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
        interaction: discord.Interaction[CharBot],
        description: app_commands.Range[str, 1, 2000],
        name: app_commands.Range[str, 1, 100] | None = None,
        style: app_commands.Choice[str] | None = None,
        gender: app_commands.Range[str, 1, 50] | None = None,
        age: app_commands.Range[str, 1, 50] | None = None,
        reference: discord.Attachment | None = None,
    ) -> None:
        """Create a character from a description."""
        await flows.create_flow(
            self.bot,
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
    async def show(self, interaction: discord.Interaction[CharBot], character: str) -> None:
        """Show one of your characters."""
        caller = await self.bot.caller(interaction)
        async with self.bot.reads() as session:
            row = await characters_service.get_visible_character(session, character, caller.user.id)
        embed = character_embed(self.bot.catalog, caller.lang, row)
        view = character_view(self.bot.catalog, caller.lang, row)
        await respond(
            interaction,
            embed=embed,
            view=view if row.user_id == caller.user.id else discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
        )

    @character.command(name=_("list"), description=_("List your characters"))
    @app_commands.describe(filter=_("Which characters"))
    @app_commands.choices(filter=FILTER_CHOICES)
    async def list_(
        self,
        interaction: discord.Interaction[CharBot],
        filter: app_commands.Choice[str] | None = None,
    ) -> None:
        """List your characters."""
        caller = await self.bot.caller(interaction)
        embed, view = await character_list_message(
            self.bot, caller, filter.value if filter else "all", None
        )
        await respond(interaction, embed=embed, view=view, allowed_mentions=NO_MENTIONS)

    @character.command(
        name=_("edit"), description=_("Edit a character's details"), extras=SELF_ACKNOWLEDGING
    )
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def edit(self, interaction: discord.Interaction[CharBot], character: str) -> None:
        """Edit a character's details."""
        caller = await self.bot.caller(interaction)
        async with self.bot.reads() as session:
            row = await characters_service.get_owned_character(session, character, caller.user.id)
        await interaction.response.send_modal(
            EditCharacterModal(self.bot.catalog, caller.lang, row, self.on_edit_submit)
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
        interaction: discord.Interaction[CharBot],
        character: str,
        instruction: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        """Draw a character's portrait again."""
        await flows.regenerate_flow(self.bot, interaction, character, instruction)

    @character.command(name=_("delete"), description=_("Delete a character"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def delete(self, interaction: discord.Interaction[CharBot], character: str) -> None:
        """Delete a character (asks to confirm)."""
        caller = await self.bot.caller(interaction)
        async with self.bot.reads() as session:
            row = await characters_service.get_owned_character(session, character, caller.user.id)
        view = discord.ui.View(timeout=None)
        view.add_item(ConfirmDeleteButton.make(self.bot.catalog, caller.lang, row.id, confirm=True))
        view.add_item(
            ConfirmDeleteButton.make(self.bot.catalog, caller.lang, row.id, confirm=False)
        )
        await respond(
            interaction,
            self.bot.catalog.t(caller.lang, "delete.confirm", name=row.name or row.id[:8]),
            view=view,
            allowed_mentions=NO_MENTIONS,
        )

    @character.command(name=_("publish"), description=_("Show a character in the public gallery"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def publish(self, interaction: discord.Interaction[CharBot], character: str) -> None:
        """Show a character in the public gallery."""
        await self._set_public(interaction, character, True)

    @character.command(name=_("unpublish"), description=_("Remove a character from the gallery"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def unpublish(self, interaction: discord.Interaction[CharBot], character: str) -> None:
        """Remove a character from the gallery."""
        await self._set_public(interaction, character, False)

    @character.command(name=_("export"), description=_("Download a character as a Character Card"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def export(self, interaction: discord.Interaction[CharBot], character: str) -> None:
        """Download a character as JSON and as a PNG Character Card V2."""
        await self.bot.export_character(interaction, character)

    @character.command(
        name=_("import"),
        description=_("Create a character from a Character Card"),
        extras=SELF_ACKNOWLEDGING,
    )
    @app_commands.describe(card=_("A Character Card: PNG (V1/V2) or JSON"))
    async def import_(
        self, interaction: discord.Interaction[CharBot], card: discord.Attachment
    ) -> None:
        """Create a character from a Character Card (no quota used)."""
        await flows.import_flow(self.bot, interaction, card)

    # -- shared actions ---------------------------------------------------------------------

    async def _set_public(
        self, interaction: discord.Interaction[CharBot], character_id: str, public: bool
    ) -> None:
        caller = await self.bot.caller(interaction)
        async with self.bot.sessions.begin() as session:
            row = await characters_service.set_flag(
                session, character_id, caller.user.id, "is_public", public
            )
        await sync_showcase(interaction, row)
        key = "publish.done" if public else "unpublish.done"
        extra = ""
        if public and not caller.user.allow_gallery_showcase:
            extra = "\n" + self.bot.catalog.t(caller.lang, "publish.showcase_off")
        await respond(
            interaction, self.bot.catalog.t(caller.lang, key, name=row.name or "") + extra
        )

    async def on_edit_submit(
        self, interaction: discord.Interaction[CharBot], character_id: str, fields: dict[str, str]
    ) -> None:
        """Apply the edit modal."""
        caller = await self.bot.caller(interaction)
        # commas of any script separate traits (",", "，", "、") as do line breaks
        personality = [p.strip() for p in re.split(r"[,，、\n]", fields["personality"])]
        async with self.bot.sessions.begin() as session:
            row = await characters_service.edit_character(
                session,
                character_id,
                caller.user.id,
                name=fields["name"],
                description=fields["description"],
                personality=[p for p in personality if p],
                clothing=fields["clothing"],
                background=fields["background"],
            )
        await respond(
            interaction,
            self.bot.catalog.t(caller.lang, "edit.done", name=row.name or ""),
            embed=character_embed(self.bot.catalog, caller.lang, row),
            allowed_mentions=NO_MENTIONS,
        )

    async def on_variant_submit(
        self,
        interaction: discord.Interaction[CharBot],
        character_id: str,
        theme: str | None,
        instruction: str,
    ) -> None:
        """Make the variant asked for in the New variant modal."""
        async with self.bot.reads() as session:
            row = await characters_service.get_character(session, character_id)
        await flows.variant_flow(
            self.bot,
            interaction,
            character_id=character_id,
            instruction=instruction,
            theme=theme,
            thread_id=flows.thread_id_of(row),
        )

    async def on_character_button(
        self, interaction: discord.Interaction[CharBot], character_id: str, action: str
    ) -> None:
        """A press of one of a character's buttons."""
        if action in ("fav", "lib", "pub"):
            await acknowledge(interaction, directly=True)  # before any database work
            caller = await self.bot.caller(interaction)
            flag = {"fav": "is_favorite", "lib": "is_in_library", "pub": "is_public"}[action]
            # set_flag refuses a character the caller does not own
            async with self.bot.sessions.begin() as session:
                row = await characters_service.set_flag(
                    session,
                    character_id,
                    caller.user.id,
                    flag,  # type: ignore[arg-type]
                )
            await update(
                interaction,
                view=character_view(self.bot.catalog, caller.lang, row),
                allowed_mentions=NO_MENTIONS,
            )
            if action == "pub":
                await sync_showcase(interaction, row)
            return
        caller = await self.bot.caller(interaction)
        async with self.bot.reads() as session:
            row = await characters_service.get_character(session, character_id)
        if action in OWNER_ACTIONS and row.user_id != caller.user.id:
            raise NotOwnerError
        if action == "var":
            await interaction.response.send_modal(
                NewVariantModal(self.bot.catalog, caller.lang, character_id, self.on_variant_submit)
            )
            return
        if action == "regen":
            await self._regenerate_from_button(interaction, row)
            return
        if action == "exp":
            await self.bot.export_character(interaction, character_id)
            return

    async def _regenerate_from_button(
        self, interaction: discord.Interaction[CharBot], row: Any
    ) -> None:
        """Disable the buttons while the new portrait is drawn, then show it in place."""
        caller = await self.bot.caller(interaction)
        lang = caller.lang
        await update(interaction, view=character_view(self.bot.catalog, lang, row, disabled=True))
        progress = flows.ProgressReporter(self.bot, interaction, lang)
        try:
            outcome = await flows.guarded(
                self.bot,
                interaction,
                lang,
                lambda: self.bot.pipeline.regenerate(
                    user_id=caller.user.id, character_id=row.id, progress=progress
                ),
                progress,
            )
        except BaseException:
            try:
                await interaction.edit_original_response(
                    content=None, view=character_view(self.bot.catalog, lang, row)
                )
            except discord.HTTPException:
                log.debug("could not re-enable the buttons", exc_info=True)
            raise
        character = outcome.character
        await deliver(
            interaction,
            content=None,
            embed=character_embed(
                self.bot.catalog,
                lang,
                character,
                image_filename=flows.image_filename(outcome.mime_type),
            ),
            view=character_view(self.bot.catalog, lang, character),
            files=flows.image_file(outcome.image, outcome.mime_type),
        )


async def setup(bot: CharBot) -> None:
    """Load the cog and its persistent buttons."""
    bot.add_dynamic_items(CharacterListButton, ConfirmDeleteButton)
    await bot.add_cog(Characters(bot))
