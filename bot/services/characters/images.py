"""Which stored image a message of the bot shows: a character's portrait or one of its
variants, found from the ids the message carries (its buttons' custom_ids, its footer)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import NotFoundError, NotOwnerError
from bot.services.characters.lookups import is_valid_id
from db.engine import Database
from db.meta import Meta
from db.models import Character, ThemeVariant


@dataclass(frozen=True, slots=True)
class ImageTarget:
    """A character's image: its portrait (``variant_id`` None) or one variant."""

    character_id: str
    variant_id: str | None
    thread_id: int | None
    """The character's conversation (``Meta.conversation_id``)."""


async def owned_image(
    db: Database, candidate_ids: Iterable[str], user_id: str, *, portrait_hint: str | None
) -> ImageTarget:
    """The image a message shows: the variant whose id it carries, else the character whose id
    it carries (``portrait_hint`` is the id its character buttons name, checked first). Only the
    character's owner may edit it.

    Raises: NotFoundError("image") when none of the ids is a known image; NotOwnerError.
    """
    ids = [i for i in dict.fromkeys(candidate_ids) if is_valid_id(i)]
    async with db.read() as session:
        if portrait_hint is not None and is_valid_id(portrait_hint):
            character = await session.get(Character, portrait_hint)
            if character is not None:
                return _owned(character, None, user_id, Meta(character.meta).conversation_id)
        for candidate in ids:
            variant = await session.get(ThemeVariant, candidate)
            if variant is not None:
                character = await session.get(Character, variant.character_id)
                if character is not None:
                    thread = Meta(character.meta).conversation_id
                    return _owned(character, variant.id, user_id, thread)
            character = await session.get(Character, candidate)
            if character is not None:
                return _owned(character, None, user_id, Meta(character.meta).conversation_id)
    raise NotFoundError("image")


def _owned(
    character: Character, variant_id: str | None, user_id: str, thread_id: int | None
) -> ImageTarget:
    if character.user_id != user_id:
        raise NotOwnerError
    return ImageTarget(character.id, variant_id, thread_id)
