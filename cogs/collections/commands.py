"""/collection …: a member's named lists of characters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.errors import DomainError, NotOwnerError
from bot.interactions.autocomplete import answers_itself
from bot.interactions.caller import caller, caller_user_id
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.services import collections as collections_service
from bot.storage.base import Storage
from bot.storage.pictures import Picture, picture
from bot.ui.community import collection_embed, collection_list_embed
from bot.ui.embeds import picture_files
from bot.ui.text import clip
from cogs.common import as_choices, character_autocomplete, own_choices
from db.models import Character


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


async def _cover(storage: Storage, shown: Sequence[Character]) -> Picture | None:
    """The picture of the first character shown that has one (its thumbnail, when a file)."""
    for character in shown:
        found = await picture(storage, character, name="cover", small=True)
        if found is not None:
            return found
    return None


@answers_itself
async def collection_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The caller's collections matching what they typed; values are collection ids."""
    db = deps_of(interaction.client).db
    return await own_choices(
        interaction,
        lambda user_id: collections_service.collection_choices(db, user_id, current[:100]),
    )


@answers_itself
async def collection_item_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The characters in the chosen collection (for /collection remove)."""
    user_id = await caller_user_id(interaction)
    collection_id = getattr(interaction.namespace, "collection", None)
    if user_id is None or not collection_id:
        return []
    try:
        view = await collections_service.collection_for(
            deps_of(interaction.client).db, str(collection_id), user_id
        )
    except DomainError:
        return []
    query = current.strip().lower()
    pairs = [
        (c.id, f"{c.name or 'Untitled'} · {c.id[:8]}")
        for c in view.characters
        if not query or query in (c.name or "").lower() or c.id.startswith(query)
    ]
    return as_choices(pairs)


class Collections(FeatureCog):
    """Collection commands."""

    collection = app_commands.Group(
        name=_("collection"), description=_("Your collections of characters")
    )

    async def _say(self, interaction: discord.Interaction[Any], key: str, **params: Any) -> None:
        who = await caller(interaction)
        await respond(interaction, self.deps.catalog.t(who.lang, key, **params))

    @collection.command(name=_("create"), description=_("Create a collection"))
    @app_commands.describe(
        name=_("Collection name"),
        description=_("What the collection is about"),
        public=_("Let others see it"),
    )
    async def create(
        self,
        interaction: discord.Interaction[Any],
        name: app_commands.Range[str, 1, 50],
        description: app_commands.Range[str, 1, 200] | None = None,
        public: bool = False,
    ) -> None:
        """Create a collection."""
        who = await caller(interaction)
        row = await collections_service.new_collection(
            self.deps.db, who.user.id, name, description, public
        )
        await self._say(interaction, "collection.created", name=clip(row.name, 50))

    @collection.command(name=_("add"), description=_("Add a character to a collection"))
    @app_commands.describe(
        collection=_("The collection"),
        character=_("The character (yours, or a gallery character's id)"),
    )
    @app_commands.autocomplete(collection=collection_autocomplete, character=character_autocomplete)
    async def add(
        self, interaction: discord.Interaction[Any], collection: str, character: str
    ) -> None:
        """Add a character to a collection."""
        who = await caller(interaction)
        with _collection_owner():
            row = await collections_service.put_in_collection(
                self.deps.db, collection, character.strip(), who.user.id
            )
        await self._say(interaction, "collection.added", name=clip(row.name, 50))

    @collection.command(name=_("remove"), description=_("Take a character out of a collection"))
    @app_commands.describe(collection=_("The collection"), character=_("The character"))
    @app_commands.autocomplete(
        collection=collection_autocomplete, character=collection_item_autocomplete
    )
    async def remove(
        self, interaction: discord.Interaction[Any], collection: str, character: str
    ) -> None:
        """Take a character out of a collection."""
        who = await caller(interaction)
        with _collection_owner():
            row = await collections_service.take_from_collection(
                self.deps.db, collection, character.strip(), who.user.id
            )
        await self._say(interaction, "collection.removed", name=clip(row.name, 50))

    @collection.command(name=_("show"), description=_("Show a collection"))
    @app_commands.describe(collection=_("The collection"))
    @app_commands.autocomplete(collection=collection_autocomplete)
    async def show(self, interaction: discord.Interaction[Any], collection: str) -> None:
        """Show a collection."""
        who = await caller(interaction)
        view = await collections_service.collection_for(self.deps.db, collection, who.user.id)
        embed = collection_embed(
            self.deps.catalog,
            who.lang,
            view,
            add_command=self.deps.command_ids.mention("collection add"),
        )
        cover = await _cover(self.deps.storage, view.characters)
        if cover is not None:
            embed.set_thumbnail(url=cover.url)
        await respond(
            interaction,
            embed=embed,
            files=picture_files([cover]) or discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
        )

    @collection.command(name=_("list"), description=_("List your collections"))
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """List your collections."""
        who = await caller(interaction)
        summaries = await collections_service.member_collections(self.deps.db, who.user.id)
        if not summaries:
            create = self.deps.command_ids.mention("collection create")
            await self._say(interaction, "collection.none", command=create)
            return
        await respond(
            interaction,
            embed=collection_list_embed(self.deps.catalog, who.lang, summaries),
            allowed_mentions=NO_MENTIONS,
        )

    @collection.command(name=_("delete"), description=_("Delete a collection"))
    @app_commands.describe(collection=_("The collection"))
    @app_commands.autocomplete(collection=collection_autocomplete)
    async def delete(self, interaction: discord.Interaction[Any], collection: str) -> None:
        """Delete a collection (the characters stay)."""
        who = await caller(interaction)
        with _collection_owner():
            name = await collections_service.remove_collection(
                self.deps.db, collection, who.user.id
            )
        await self._say(interaction, "collection.deleted", name=clip(name, 50))


async def setup(client: commands.Bot) -> None:
    """Load the cog."""
    await client.add_cog(Collections(client))
