"""The rows every member starts with: characters (public and private), themes with variants,
collections and a profile, so generated ids can point at real rows of the caller and of
another member from the first interaction on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.storage.images import image_key
from bot.storage.local import LocalStorage
from db.engine import make_session_factory
from db.meta import IMAGE_KEY
from db.models import Character, CharacterCollection, CharacterCollectionItem, User, UserProfile
from tests.factories import make_character, make_theme, make_user, make_variant
from tests.fakes.discord.interactions import APPLICATION_COMMAND
from tests.fakes.gemini_server import png_bytes

if TYPE_CHECKING:
    from tests.fuzzing.world import World


async def populate(world: World) -> None:
    """Rows for every member; the guilds' showcase channels set up by their owners."""
    factory = make_session_factory(world.engine)
    public_of_victim = ""
    for actor in [world.victim, *world.actors.values()]:
        async with factory.begin() as s:
            user = await make_user(
                s,
                int(actor.discord_id),
                daily_quota=1_000_000,
                allow_gallery_showcase=True,
                profile_visibility="public" if actor is world.victim else "private",
            )
            actor.user_id = user.id
            s.add(UserProfile(user_id=user.id, bio=f"{actor.name}'s bio", profession="knight"))
            public = await make_character(
                s, user, name=f"{actor.name} public", is_public=True, tags=["fuzz", actor.name]
            )
            await _store_portrait(world, public)  # as the bot makes them: remixable, editable
            private = await make_character(s, user, name=f"{actor.name} private", tags=["fuzz"])
            await make_character(s, user, name=f"{actor.name} favourite", is_favorite=True)
            theme = await make_theme(s, public, name=f"{actor.name} winter")
            await make_variant(s, theme)
            await make_theme(s, private, name="empty")
            collection = CharacterCollection(
                user_id=user.id, name=f"{actor.name} shelf", is_public=True
            )
            s.add(collection)
            await s.flush()
            s.add(CharacterCollectionItem(collection_id=collection.id, character_id=public.id))
            if public_of_victim:
                s.add(
                    CharacterCollectionItem(
                        collection_id=collection.id, character_id=public_of_victim
                    )
                )
            s.add(CharacterCollection(user_id=user.id, name="secret", is_public=False))
            if actor is world.victim:
                public_of_victim = public.id
    async with factory.begin() as s:
        await s.execute(
            update(User)
            .where(User.id.in_([a.user_id for a in world.everyone()]))
            .values(daily_quota=1_000_000)
        )
    for key in ("A", "B"):
        await _setup_showcase(world, key)


async def _store_portrait(world: World, character: Character) -> None:
    """Give a seeded character a stored portrait under its key, as the bot's own characters
    have (characters with only an image URL cannot be remixed or edited)."""
    key = image_key(character.id)
    await LocalStorage(world.data_dir / "images").put(key, png_bytes(), "image/png")
    character.meta = {**(character.meta or {}), IMAGE_KEY: key}


async def _setup_showcase(world: World, key: str) -> None:
    fake = world.fake
    guild = world.guilds[key]
    owner = guild.members[guild.owner_id]
    channel = world.channels[key]
    data = fake._command_data(
        owner,
        channel["id"],
        "mod setup",
        {"showcase_channel": world.channels[f"showcase {key}"]["id"]},
        attachments=None,
        raw_options=None,
    )
    payload = fake._interaction_payload(
        APPLICATION_COMMAND, owner, channel["id"], data, locale=None
    )
    ix = await fake._send(payload)
    await ix.wait_for(lambda i: i.answer_delay is not None, 10)
