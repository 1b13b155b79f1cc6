"""The least each other interaction of ``bench.interactions``' mix must do, on the bot's own
libraries: the floor of issue #19's interaction target, beside ``bench.barecreate``'s create
(the same process serves both).

Each answer takes one database statement and one request to Discord:

- ``/quota``: the member's counters, their row created on first use (one statement);
- ``/character list``: the member's ten newest characters, as an embed;
- the autocomplete of ``/character show``: the member's characters whose name starts with what
  was typed (25 at most);
- ``/gallery browse``: the ten newest published characters, as an embed;
- the Favorite button under a character's message (``char:<id>:fav``, as the bot's): the
  press is acknowledged at once, the flag flipped for the owner only, and the button redrawn.

Left out, as in ``bench.barecreate``: the member's settings, language, notices and blocks,
paging buttons, the daily reset, checks, logs and metrics. So its CPU per interaction is what
answering the same kinds costs on these libraries with no product around it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands
from sqlalchemy import text

Statement = Callable[..., Awaitable[Sequence[Any]]]
"""Runs one statement (autocommit) with these values; its rows."""

COUNTERS = text(
    "WITH found AS (SELECT daily_used, daily_quota FROM users WHERE auth0_id = :who),"
    " made AS (INSERT INTO users (email, auth0_id, username, daily_quota)"
    " SELECT :email, :who, :name, 100000 WHERE NOT EXISTS (SELECT 1 FROM found)"
    " ON CONFLICT (auth0_id) DO NOTHING RETURNING daily_used, daily_quota)"
    " SELECT * FROM found UNION ALL SELECT * FROM made"
)
OWN = text(
    "SELECT c.id, c.name FROM characters c JOIN users u ON u.id = c.user_id"
    " WHERE u.auth0_id = :who ORDER BY c.created_at DESC LIMIT 10"
)
STARTING = text(
    "SELECT c.id, c.name FROM characters c JOIN users u ON u.id = c.user_id"
    " WHERE u.auth0_id = :who AND c.name ILIKE :prefix ORDER BY c.name LIMIT 25"
)
PUBLISHED = text(
    "SELECT id, name, thumbnail_url FROM characters WHERE is_public"
    " ORDER BY created_at DESC LIMIT 10"
)
TOGGLE = text(
    "UPDATE characters SET is_favorite = NOT coalesce(is_favorite, false) WHERE id = :id"
    " AND user_id = (SELECT id FROM users WHERE auth0_id = :who) RETURNING is_favorite"
)


def who(user: discord.abc.User) -> str:
    return f"discord|{user.id}"


def favorite_view(character_id: str, favorite: bool = False) -> discord.ui.View:
    """The Favorite button (the bot's custom_id). The view is stopped before it is sent, so
    discord.py does not keep it: a press comes to ``on_interaction``."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            label="Unfavorite" if favorite else "Favorite",
            emoji="⭐",
            style=discord.ButtonStyle.success if favorite else discord.ButtonStyle.secondary,
            custom_id=f"char:{character_id}:fav",
        )
    )
    view.stop()
    return view


def listing(title: str, rows: Sequence[Any]) -> discord.Embed:
    return discord.Embed(
        title=title, description="\n".join(f"• {row.name}" for row in rows) or "nothing yet"
    )


def commands(
    tree: app_commands.CommandTree[Any],
    group: app_commands.Group,
    rows: Statement,
    guild: discord.Object | None,
) -> None:
    """Adds ``/quota``, ``show`` (with its autocomplete) and ``list`` to the ``/character``
    ``group``, and ``/gallery browse``."""

    @app_commands.command(name="quota", description="today's quota")
    async def quota(interaction: discord.Interaction) -> None:
        member = interaction.user.id
        (row,) = await rows(
            COUNTERS,
            who=who(interaction.user),
            email=f"discord_{member}@floor.invalid",
            name=f"floor_{member}",
        )
        await interaction.response.send_message(
            f"{row.daily_used}/{row.daily_quota} today", ephemeral=True
        )

    @group.command(name="list", description="your characters")
    async def character_list(interaction: discord.Interaction) -> None:
        found = await rows(OWN, who=who(interaction.user))
        await interaction.response.send_message(
            embed=listing("Your characters", found), ephemeral=True
        )

    @group.command(name="show", description="show a character")
    async def show(interaction: discord.Interaction, character: str) -> None:
        await interaction.response.send_message(character[:100], ephemeral=True)

    @show.autocomplete("character")
    async def starting(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        prefix = current.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found = await rows(STARTING, who=who(interaction.user), prefix=f"{prefix}%")
        return [app_commands.Choice(name=row.name[:100], value=row.id) for row in found]

    gallery = app_commands.Group(name="gallery", description="published characters")

    @gallery.command(name="browse", description="browse the gallery")
    async def browse(interaction: discord.Interaction) -> None:
        found = await rows(PUBLISHED)
        await interaction.response.send_message(embed=listing("Gallery", found), ephemeral=True)

    for command in (quota, gallery):
        if guild is None:
            tree.add_command(command)
        else:
            tree.add_command(command, guild=guild)


def on_interaction(rows: Statement) -> Callable[[discord.Interaction], Awaitable[None]]:
    """The Favorite button: acknowledged before the database, then the button redrawn."""

    async def on_interaction(interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = str((interaction.data or {}).get("custom_id", ""))
        kind, _, rest = custom_id.partition(":")
        character_id, _, action = rest.partition(":")
        if kind != "char" or action != "fav":
            return
        await interaction.response.defer()
        found = await rows(TOGGLE, id=character_id, who=who(interaction.user))
        if found:
            await interaction.edit_original_response(
                view=favorite_view(character_id, bool(found[0].is_favorite))
            )

    return on_interaction
