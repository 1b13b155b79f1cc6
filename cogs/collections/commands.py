"""/collection …: a member's named lists of characters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.errors import DomainError, NotOwnerError
from bot.interactions.caller import caller_user_id
from bot.interactions.replies import NO_MENTIONS, respond
from bot.services import collections as collections_service
from bot.ui.community import collection_embed, collection_list_embed
from bot.ui.text import clip
from cogs.common import as_choices, character_autocomplete, own_choices

if TYPE_CHECKING:
    from bot.app import CharBot


class CollectionNotOwnerError(NotOwnerError):
    """Another member's collection: the refusal names collections, not characters."""

    key = "collection.not_owner"


@contextmanager
def _collection_owner() -> Iterator[None]:
    try:
        yield
    except CollectionNotOwnerError:
        raise
    except NotOwnerError:
        raise CollectionNotOwnerError() from None


async def _reading(interaction: discord.Interaction[Any], read: Any) -> Any:
    """Run ``read(session)`` in a read session (until this feature's use cases own it)."""
    async with interaction.client.reads() as session:
        return await read(session)


async def collection_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The caller's collections matching what they typed; values are collection ids."""
    return await own_choices(
        interaction,
        lambda user_id: _reading(
            interaction,
            lambda session: collections_service.autocomplete_collections(
                session, user_id, current[:100]
            ),
        ),
    )


async def collection_item_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The characters in the chosen collection (for /collection remove)."""
    bot: CharBot = interaction.client
    user_id = await caller_user_id(interaction)
    collection_id = getattr(interaction.namespace, "collection", None)
    if user_id is None or not collection_id:
        return []
    try:
        async with bot.reads() as session:
            view = await collections_service.show_collection(session, str(collection_id), user_id)
    except DomainError:
        return []
    query = current.strip().lower()
    pairs = [
        (c.id, f"{c.name or 'Untitled'} · {c.id[:8]}")
        for c in view.characters
        if not query or query in (c.name or "").lower() or c.id.startswith(query)
    ]
    return as_choices(pairs)


class Collections(commands.Cog):
    """Collection commands."""

    collection = app_commands.Group(
        name=_("collection"), description=_("Your collections of characters")
    )

    def __init__(self, bot: CharBot) -> None:
        self.bot = bot

    async def _say(
        self, interaction: discord.Interaction[CharBot], key: str, **params: Any
    ) -> None:
        caller = await self.bot.caller(interaction)
        await respond(interaction, self.bot.catalog.t(caller.lang, key, **params))

    @collection.command(name=_("create"), description=_("Create a collection"))
    @app_commands.describe(
        name=_("Collection name"),
        description=_("What the collection is about"),
        public=_("Let others see it"),
    )
    async def create(
        self,
        interaction: discord.Interaction[CharBot],
        name: app_commands.Range[str, 1, 50],
        description: app_commands.Range[str, 1, 200] | None = None,
        public: bool = False,
    ) -> None:
        """Create a collection."""
        caller = await self.bot.caller(interaction)
        async with self.bot.sessions.begin() as session:
            row = await collections_service.create_collection(
                session, caller.user.id, name, description, public
            )
        await self._say(interaction, "collection.created", name=clip(row.name, 50))

    @collection.command(name=_("add"), description=_("Add a character to a collection"))
    @app_commands.describe(
        collection=_("The collection"),
        character=_("The character (yours, or a gallery character's id)"),
    )
    @app_commands.autocomplete(collection=collection_autocomplete, character=character_autocomplete)
    async def add(
        self, interaction: discord.Interaction[CharBot], collection: str, character: str
    ) -> None:
        """Add a character to a collection."""
        caller = await self.bot.caller(interaction)
        with _collection_owner():
            async with self.bot.sessions.begin() as session:
                await collections_service.add_to_collection(
                    session, collection, character.strip(), caller.user.id
                )
                row = await collections_service.get_owned_collection(
                    session, collection, caller.user.id
                )
        await self._say(interaction, "collection.added", name=clip(row.name, 50))

    @collection.command(name=_("remove"), description=_("Take a character out of a collection"))
    @app_commands.describe(collection=_("The collection"), character=_("The character"))
    @app_commands.autocomplete(
        collection=collection_autocomplete, character=collection_item_autocomplete
    )
    async def remove(
        self, interaction: discord.Interaction[CharBot], collection: str, character: str
    ) -> None:
        """Take a character out of a collection."""
        caller = await self.bot.caller(interaction)
        with _collection_owner():
            async with self.bot.sessions.begin() as session:
                await collections_service.remove_from_collection(
                    session, collection, character.strip(), caller.user.id
                )
                row = await collections_service.get_owned_collection(
                    session, collection, caller.user.id
                )
        await self._say(interaction, "collection.removed", name=clip(row.name, 50))

    @collection.command(name=_("show"), description=_("Show a collection"))
    @app_commands.describe(collection=_("The collection"))
    @app_commands.autocomplete(collection=collection_autocomplete)
    async def show(self, interaction: discord.Interaction[CharBot], collection: str) -> None:
        """Show a collection."""
        caller = await self.bot.caller(interaction)
        async with self.bot.reads() as session:
            view = await collections_service.show_collection(session, collection, caller.user.id)
        await respond(
            interaction,
            embed=collection_embed(self.bot.catalog, caller.lang, view),
            allowed_mentions=NO_MENTIONS,
        )

    @collection.command(name=_("list"), description=_("List your collections"))
    async def list_(self, interaction: discord.Interaction[CharBot]) -> None:
        """List your collections."""
        caller = await self.bot.caller(interaction)
        async with self.bot.reads() as session:
            summaries = await collections_service.list_collections(session, caller.user.id)
        if not summaries:
            await self._say(interaction, "collection.none")
            return
        await respond(
            interaction,
            embed=collection_list_embed(self.bot.catalog, caller.lang, summaries),
            allowed_mentions=NO_MENTIONS,
        )

    @collection.command(name=_("delete"), description=_("Delete a collection"))
    @app_commands.describe(collection=_("The collection"))
    @app_commands.autocomplete(collection=collection_autocomplete)
    async def delete(self, interaction: discord.Interaction[CharBot], collection: str) -> None:
        """Delete a collection (the characters stay)."""
        caller = await self.bot.caller(interaction)
        with _collection_owner():
            async with self.bot.sessions.begin() as session:
                row = await collections_service.get_owned_collection(
                    session, collection, caller.user.id
                )
                name = row.name
                await collections_service.delete_collection(session, collection, caller.user.id)
        await self._say(interaction, "collection.deleted", name=clip(name, 50))


async def setup(bot: CharBot) -> None:
    """Load the cog."""
    await bot.add_cog(Collections(bot))
