"""Suggestions: another member's edit instruction in a character's conversation, kept in the
character's metadata until its owner applies it (charged to the owner, the suggester
credited). Taking one removes it, so one suggestion makes one variant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.errors import InvalidInputError, NotFoundError, NotOwnerError
from bot.services.characters import is_valid_id
from bot.services.conversation.sources import ImageSource
from bot.services.generation.inputs import MAX_INSTRUCTION, MAX_THEME_NAME, clean
from db.engine import Database
from db.meta import SUGGESTIONS
from db.models import Character

MAX_KEPT = 25
"""Suggestions kept per character (the oldest go first)."""


@dataclass(frozen=True)
class Suggestion:
    """An instruction someone suggested, and the image it was meant for."""

    id: str
    character_id: str
    text: str
    theme: str | None
    suggested_by: str
    """The suggester's Discord id."""
    source_variant_id: str | None
    from_portrait: bool

    def as_json(self) -> dict[str, Any]:
        """The form kept in ``characters.metadata.suggestions``."""
        return {
            "id": self.id,
            "text": self.text,
            "theme": self.theme,
            "suggestedBy": self.suggested_by,
            "sourceVariantId": self.source_variant_id,
            "fromPortrait": self.from_portrait,
            "at": datetime.now(UTC).isoformat(),
        }

    @classmethod
    def from_json(cls, character_id: str, raw: object) -> Suggestion | None:
        """A kept suggestion, or None when the entry is not one."""
        if not isinstance(raw, dict):
            return None
        sid, text, by = raw.get("id"), raw.get("text"), raw.get("suggestedBy")
        if not (isinstance(sid, str) and isinstance(text, str) and isinstance(by, str)):
            return None
        theme = raw.get("theme")
        source = raw.get("sourceVariantId")
        return cls(
            id=sid,
            character_id=character_id,
            text=text,
            theme=theme if isinstance(theme, str) else None,
            suggested_by=by,
            source_variant_id=source if isinstance(source, str) else None,
            from_portrait=raw.get("fromPortrait") is True,
        )


def _kept(character: Character) -> list[Any]:
    value = (character.meta or {}).get(SUGGESTIONS)
    return list(value) if isinstance(value, list) else []


async def add_suggestion(
    db: Database,
    character_id: str,
    *,
    text: str,
    theme: str | None,
    suggested_by: int,
    source: ImageSource | None,
) -> Suggestion:
    """Keep a suggestion for the character's owner.

    Raises: InvalidInputError (empty or too long), NotFoundError("character").
    """
    instruction = clean(text, MAX_INSTRUCTION, "instruction")
    if not instruction:
        raise InvalidInputError("Say how to change the image.", "invalid.instruction_empty")
    suggestion = Suggestion(
        id=str(uuid.uuid4()),
        character_id=character_id,
        text=instruction,
        theme=clean(theme, MAX_THEME_NAME, "theme name"),
        suggested_by=str(suggested_by),
        source_variant_id=source.variant_id if source is not None else None,
        from_portrait=source is not None and source.variant_id is None,
    )
    async with db.transaction() as session:
        character = await session.get(Character, character_id, with_for_update=True)
        if character is None:
            raise NotFoundError("character")
        kept = [*_kept(character), suggestion.as_json()][-MAX_KEPT:]
        character.meta = {**(character.meta or {}), SUGGESTIONS: kept}
    return suggestion


async def take_suggestion(
    db: Database, character_id: str, suggestion_id: str, user_id: str
) -> Suggestion:
    """The owner takes a suggestion to apply it (it is removed: one press, one variant).

    Raises: NotFoundError("character" / "suggestion"), NotOwnerError.
    """
    if not is_valid_id(character_id):
        raise NotFoundError("character")
    async with db.transaction() as session:
        character = await session.get(Character, character_id, with_for_update=True)
        if character is None:
            raise NotFoundError("character")
        if character.user_id != user_id:
            raise NotOwnerError
        kept = _kept(character)
        for index, raw in enumerate(kept):
            found = Suggestion.from_json(character_id, raw)
            if found is not None and found.id == suggestion_id:
                del kept[index]
                character.meta = {**(character.meta or {}), SUGGESTIONS: kept}
                return found
    raise NotFoundError("suggestion")


async def give_back(db: Database, suggestion: Suggestion) -> None:
    """Keep a taken suggestion again (its variant could not be made)."""
    async with db.transaction() as session:
        character = await session.get(Character, suggestion.character_id, with_for_update=True)
        if character is None:
            return
        kept = [*_kept(character), suggestion.as_json()][-MAX_KEPT:]
        character.meta = {**(character.meta or {}), SUGGESTIONS: kept}
