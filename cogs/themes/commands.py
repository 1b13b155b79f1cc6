"""/theme … and /variant …: organise a character's variants into themes, and re-run a theme
on another character."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.errors import InvalidInputError
from bot.interactions.autocomplete import answers_itself
from bot.interactions.caller import caller, caller_user_id
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services.themes import use_cases
from bot.ui.embeds import picture_files
from bot.ui.text import clip, fit_embed
from cogs.characters.variant import variant_flow
from cogs.common import as_choices, character_autocomplete, own_choices
from cogs.themes.paging import VariantPageButton, variant_list_message
from cogs.themes.recipe import recipe_flow
from db.meta import Meta


@answers_itself
async def theme_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The caller's themes ("Character · Theme"), values are theme ids."""
    db = deps_of(interaction.client).db
    return await own_choices(
        interaction, lambda user_id: use_cases.theme_choices(db, user_id, current[:100])
    )


@answers_itself
async def variant_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The caller's variants, values are variant ids."""
    db = deps_of(interaction.client).db
    return await own_choices(
        interaction, lambda user_id: use_cases.variant_choices(db, user_id, current[:100])
    )


@answers_itself
async def variant_theme_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """Theme names of the character in question (the option, or the thread's character); what
    the member typed comes first when it names no theme yet (a new theme)."""
    user_id = await caller_user_id(interaction)
    if user_id is None:
        return []
    character = getattr(interaction.namespace, "character", None)
    found = await use_cases.theme_name_choices(
        deps_of(interaction.client).db,
        user_id,
        current[:100],
        character_id=str(character) if character else None,
        thread_id=interaction.channel_id,
    )
    if found is None:
        return []
    names = [(name, name) for name in found]
    typed = current.strip()
    if typed and all(n.lower() != typed.lower() for n, _ in names):
        names.insert(0, (typed[:50], typed[:50]))
    return as_choices(names)


class Themes(FeatureCog):
    """Theme and variant commands."""

    theme = app_commands.Group(name=_("theme"), description=_("Group a character's variants"))
    variant = app_commands.Group(name=_("variant"), description=_("Edited versions of a character"))

    async def _say(self, interaction: discord.Interaction[Any], key: str, **params: Any) -> None:
        who = await caller(interaction)
        await respond(interaction, self.deps.catalog.t(who.lang, key, **params))

    @theme.command(name=_("create"), description=_("Create a theme for a character"))
    @app_commands.describe(
        character=_("The character"), name=_("Theme name"), description=_("What the theme is")
    )
    @app_commands.autocomplete(character=character_autocomplete)
    async def theme_create(
        self,
        interaction: discord.Interaction[Any],
        character: str,
        name: app_commands.Range[str, 1, 50],
        description: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        """Create a theme for a character."""
        who = await caller(interaction)
        theme = await use_cases.new_theme(self.deps.db, character, who.user.id, name, description)
        await self._say(interaction, "theme.created", name=clip(theme.name, 50))

    @theme.command(name=_("list"), description=_("List a character's themes"))
    @app_commands.describe(character=_("The character"))
    @app_commands.autocomplete(character=character_autocomplete)
    async def theme_list(self, interaction: discord.Interaction[Any], character: str) -> None:
        """List a character's themes."""
        who = await caller(interaction)
        t = self.deps.catalog.t
        listed = await use_cases.character_themes(self.deps.db, character, who.user.id)
        lines = [
            t(who.lang, "theme.line", name=clip(s.name, 50), count=s.variant_count)
            for s in listed.themes
        ]
        embed = discord.Embed(
            title=t(who.lang, "theme.list_title", name=clip(listed.character.name or "", 100)),
            description="\n".join(lines)
            or t(who.lang, "theme.none", command=self.deps.command_ids.mention("theme create")),
        )
        await respond(interaction, embed=fit_embed(embed), allowed_mentions=NO_MENTIONS)

    @theme.command(name=_("rename"), description=_("Rename a theme"))
    @app_commands.describe(theme=_("The theme"), new_name=_("The new name"))
    @app_commands.autocomplete(theme=theme_autocomplete)
    async def theme_rename(
        self,
        interaction: discord.Interaction[Any],
        theme: str,
        new_name: app_commands.Range[str, 1, 50],
    ) -> None:
        """Rename a theme."""
        who = await caller(interaction)
        row = await use_cases.retitle_theme(self.deps.db, theme, who.user.id, new_name)
        await self._say(interaction, "theme.renamed", name=clip(row.name, 50))

    @theme.command(name=_("delete"), description=_("Delete a theme and its variants"))
    @app_commands.describe(theme=_("The theme"))
    @app_commands.autocomplete(theme=theme_autocomplete)
    async def theme_delete(self, interaction: discord.Interaction[Any], theme: str) -> None:
        """Delete a theme and its variants."""
        who = await caller(interaction)
        await use_cases.remove_theme(self.deps.db, self.deps.storage, theme, who.user.id)
        await self._say(interaction, "theme.deleted")

    @theme.command(
        name=_("apply"),
        description=_("Re-run a theme's variants on another of your characters"),
        extras=SELF_ACKNOWLEDGING,
    )
    @app_commands.describe(
        theme=_("The theme whose variants to repeat"),
        character=_("The character to make them for"),
    )
    @app_commands.autocomplete(theme=theme_autocomplete, character=character_autocomplete)
    async def theme_apply(
        self, interaction: discord.Interaction[Any], theme: str, character: str
    ) -> None:
        """Re-run a theme's variants on another of your characters."""
        await recipe_flow(interaction, theme.strip(), character.strip())

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
        interaction: discord.Interaction[Any],
        instruction: app_commands.Range[str, 1, 500],
        theme: app_commands.Range[str, 1, 50] | None = None,
        character: str | None = None,
    ) -> None:
        """Make an edited version of a character."""
        row = await use_cases.variant_character(self.deps.db, character, interaction.channel_id)
        if row is None:
            raise InvalidInputError(
                "Choose a character, or use this command inside a character's thread.",
                "invalid.character_needed",
            )
        await variant_flow(
            interaction,
            character_id=row.id,
            instruction=instruction,
            theme=theme,
            thread_id=Meta(row.meta).conversation_id,
        )

    @variant.command(name=_("list"), description=_("Browse the variants of a theme"))
    @app_commands.describe(theme=_("The theme"))
    @app_commands.autocomplete(theme=theme_autocomplete)
    async def variant_list(self, interaction: discord.Interaction[Any], theme: str) -> None:
        """Browse the variants of a theme."""
        embed, view, image = await variant_list_message(interaction, theme, None)
        await respond(
            interaction,
            embed=embed,
            view=view,
            files=picture_files([image]) or discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
        )

    @variant.command(name=_("delete"), description=_("Delete a variant"))
    @app_commands.describe(variant=_("The variant"))
    @app_commands.autocomplete(variant=variant_autocomplete)
    async def variant_delete(self, interaction: discord.Interaction[Any], variant: str) -> None:
        """Delete a variant."""
        who = await caller(interaction)
        await use_cases.remove_variant(self.deps.db, self.deps.storage, variant, who.user.id)
        await self._say(interaction, "variant.deleted")


async def setup(client: commands.Bot) -> None:
    """Load the cog and its persistent buttons."""
    client.add_dynamic_items(VariantPageButton)
    await client.add_cog(Themes(client))
