"""/theme … and /variant …: organise a character's variants into themes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.errors import InvalidInputError
from bot.interactions.caller import caller_user_id
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services import characters as characters_service
from bot.services import themes as themes_service
from bot.ui.text import clip, fit_embed
from cogs.characters import flows
from cogs.common import as_choices, character_autocomplete, own_choices
from cogs.themes.paging import VariantPageButton, variant_page_message
from db.models import CharacterTheme

if TYPE_CHECKING:
    from bot.app import CharBot

log = logging.getLogger(__name__)


async def _reading(interaction: discord.Interaction[Any], read: Any) -> Any:
    """Run ``read(session)`` in a read session (until this feature's use cases own it)."""
    async with interaction.client.reads() as session:
        return await read(session)


async def theme_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The caller's themes ("Character · Theme"), values are theme ids."""
    return await own_choices(
        interaction,
        lambda user_id: _reading(
            interaction,
            lambda session: themes_service.autocomplete_themes(session, user_id, current[:100]),
        ),
    )


async def variant_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The caller's variants, values are variant ids."""
    return await own_choices(
        interaction,
        lambda user_id: _reading(
            interaction,
            lambda session: themes_service.autocomplete_variants(session, user_id, current[:100]),
        ),
    )


async def _character_in_context(
    bot: CharBot, interaction: discord.Interaction[Any], character: str | None
) -> str | None:
    if character:
        return character
    if interaction.channel_id is None:
        return None
    async with bot.reads() as session:
        row = await characters_service.find_character_by_thread(session, interaction.channel_id)
    return row.id if row is not None else None


async def variant_theme_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """Theme names of the character in question (the option, or the thread's character)."""
    bot: CharBot = interaction.client
    user_id = await caller_user_id(interaction)
    if user_id is None:
        return []
    character = getattr(interaction.namespace, "character", None)
    character_id = await _character_in_context(bot, interaction, character)
    if character_id is None:
        return []
    async with bot.reads() as session:
        pairs = await themes_service.autocomplete_themes(
            session, user_id, current[:100], character_id=character_id
        )
        names = []
        for theme_id, _label in pairs:
            theme = await session.get(CharacterTheme, theme_id)
            if theme is not None:
                names.append((theme.name, theme.name))
    if current.strip() and all(n.lower() != current.strip().lower() for n, _ in names):
        names.insert(0, (current.strip()[:50], current.strip()[:50]))
    return as_choices(names)


class Themes(commands.Cog):
    """Theme and variant commands."""

    theme = app_commands.Group(name=_("theme"), description=_("Group a character's variants"))
    variant = app_commands.Group(name=_("variant"), description=_("Edited versions of a character"))

    def __init__(self, bot: CharBot) -> None:
        self.bot = bot

    @theme.command(name=_("create"), description=_("Create a theme for a character"))
    @app_commands.describe(
        character=_("The character"), name=_("Theme name"), description=_("What the theme is")
    )
    @app_commands.autocomplete(character=character_autocomplete)
    async def theme_create(
        self,
        interaction: discord.Interaction[CharBot],
        character: str,
        name: app_commands.Range[str, 1, 50],
        description: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        """Create a theme for a character."""
        caller = await self.bot.caller(interaction)
        async with self.bot.sessions.begin() as session:
            theme = await themes_service.create_theme(
                session, character, caller.user.id, name, description
            )
        await respond(
            interaction,
            self.bot.catalog.t(caller.lang, "theme.created", name=clip(theme.name, 50)),
            allowed_mentions=NO_MENTIONS,
        )

    @theme.command(name=_("list"), description=_("List a character's themes"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def theme_list(self, interaction: discord.Interaction[CharBot], character: str) -> None:
        """List a character's themes."""
        caller = await self.bot.caller(interaction)
        t = self.bot.catalog.t
        async with self.bot.reads() as session:
            row = await characters_service.get_visible_character(session, character, caller.user.id)
            summaries = await themes_service.list_themes(session, character, caller.user.id)
        lines = [
            t(caller.lang, "theme.line", name=clip(s.name, 50), count=s.variant_count)
            for s in summaries
        ]
        embed = discord.Embed(
            title=t(caller.lang, "theme.list_title", name=clip(row.name or "", 100)),
            description="\n".join(lines) or t(caller.lang, "theme.none"),
        )
        await respond(interaction, embed=fit_embed(embed), allowed_mentions=NO_MENTIONS)

    @theme.command(name=_("rename"), description=_("Rename a theme"))
    @app_commands.describe(theme=_("The theme"), new_name=_("The new name"))
    @app_commands.autocomplete(theme=theme_autocomplete)
    async def theme_rename(
        self,
        interaction: discord.Interaction[CharBot],
        theme: str,
        new_name: app_commands.Range[str, 1, 50],
    ) -> None:
        """Rename a theme."""
        caller = await self.bot.caller(interaction)
        async with self.bot.sessions.begin() as session:
            row = await themes_service.rename_theme(session, theme, caller.user.id, new_name)
        await respond(
            interaction,
            self.bot.catalog.t(caller.lang, "theme.renamed", name=clip(row.name, 50)),
            allowed_mentions=NO_MENTIONS,
        )

    @theme.command(name=_("delete"), description=_("Delete a theme and its variants"))
    @app_commands.describe(theme=_("The theme"))
    @app_commands.autocomplete(theme=theme_autocomplete)
    async def theme_delete(self, interaction: discord.Interaction[CharBot], theme: str) -> None:
        """Delete a theme and its variants."""
        caller = await self.bot.caller(interaction)
        async with self.bot.sessions.begin() as session:
            keys = await themes_service.delete_theme(session, theme, caller.user.id)
        await self.bot.delete_objects(keys)
        await respond(
            interaction,
            self.bot.catalog.t(caller.lang, "theme.deleted"),
            allowed_mentions=NO_MENTIONS,
        )

    @variant.command(
        name=_("create"),
        description=_("Make an edited version of a character"),
        extras=SELF_ACKNOWLEDGING,
    )
    @app_commands.describe(
        instruction=_("How to change the image, e.g. make them smile"),
        theme=_("Theme to file it under (default: Variations)"),
        character=_("The character (not needed inside its thread)"),
    )
    @app_commands.autocomplete(character=character_autocomplete, theme=variant_theme_autocomplete)
    async def variant_create(
        self,
        interaction: discord.Interaction[CharBot],
        instruction: app_commands.Range[str, 1, 500],
        theme: app_commands.Range[str, 1, 50] | None = None,
        character: str | None = None,
    ) -> None:
        """Make an edited version of a character."""
        character_id = await _character_in_context(self.bot, interaction, character)
        if character_id is None:
            raise InvalidInputError(
                "Choose a character, or use this command inside a character's thread.",
                "invalid.character_needed",
            )
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

    @variant.command(name=_("list"), description=_("Browse the variants of a theme"))
    @app_commands.describe(theme=_("The theme"))
    @app_commands.autocomplete(theme=theme_autocomplete)
    async def variant_list(self, interaction: discord.Interaction[CharBot], theme: str) -> None:
        """Browse the variants of a theme."""
        caller = await self.bot.caller(interaction)
        embed, view = await variant_page_message(self.bot, caller, theme, None)
        await respond(interaction, embed=embed, view=view, allowed_mentions=NO_MENTIONS)

    @variant.command(name=_("delete"), description=_("Delete a variant"))
    @app_commands.describe(variant=_("The variant"))
    @app_commands.autocomplete(variant=variant_autocomplete)
    async def variant_delete(self, interaction: discord.Interaction[CharBot], variant: str) -> None:
        """Delete a variant."""
        caller = await self.bot.caller(interaction)
        async with self.bot.sessions.begin() as session:
            keys = await themes_service.delete_variant(session, variant, caller.user.id)
        await self.bot.delete_objects(keys)
        await respond(
            interaction,
            self.bot.catalog.t(caller.lang, "variant.deleted"),
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: CharBot) -> None:
    """Load the cog and its persistent buttons."""
    bot.add_dynamic_items(VariantPageButton)
    await bot.add_cog(Themes(bot))
