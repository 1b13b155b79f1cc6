"""The prompt of a scene: each character's attributes, in the order of their reference
images, then the setting."""

from __future__ import annotations

from collections.abc import Sequence

from db.models import Character

MAX_PROMPT = 4000


def describe(character: Character) -> str:
    """One character's look in a line: name, then what is known of them."""
    pieces: list[str] = []
    for value in (character.gender, character.age, character.occupation):
        if value:
            pieces.append(str(value))
    traits = character.physical_traits or {}
    pieces.extend(f"{k}: {v}" for k, v in list(traits.items())[:6] if v)
    if character.clothing:
        pieces.append(f"wearing {character.clothing}")
    if character.personality:
        pieces.append(f"{', '.join(character.personality[:3])} manner")
    name = character.name or "Unnamed character"
    return f"{name} ({'; '.join(pieces)})" if pieces else name


def scene_prompt(cast: Sequence[Character], setting: str, title: str | None) -> str:
    """The composed prompt: who is in the scene, in order, and where they are."""
    lines = [f"{i + 1}. {describe(c)}" for i, c in enumerate(cast)]
    head = f"A scene titled “{title}”. " if title else "A scene. "
    text = f"{head}Setting: {setting}.\nCharacters, left to right:\n" + "\n".join(lines)
    return text[:MAX_PROMPT]
