"""The member's input to a generation, checked and normalised, and the mapping of the text
model's attributes onto the character row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.errors import InvalidInputError
from bot.providers.base import PromptResult
from bot.services.generation.model import CreateRequest
from bot.services.themes import DEFAULT_THEME
from db.meta import ART_STYLE, FROM_DISCORD, GENDER, SOURCE
from db.models import STYLES, Character

MAX_DESCRIPTION = 2000
MAX_INSTRUCTION = 500
MAX_NAME = 100
MAX_FACT = 50
MAX_THEME_NAME = 50
MAX_TAGS = 20


def clean(text: str | None, limit: int, what: str) -> str | None:
    """``text`` with its whitespace collapsed; None when absent or blank.

    Raises: InvalidInputError (``invalid.too_long``) past ``limit`` characters.
    """
    if text is None:
        return None
    cleaned = " ".join(text.split())
    if len(cleaned) > limit:
        raise InvalidInputError(
            f"The {what} is too long ({len(cleaned)} characters; at most {limit}).",
            "invalid.too_long",
            what=what,
            length=len(cleaned),
            limit=limit,
        )
    return cleaned or None


@dataclass(frozen=True)
class CreateInputs:
    """A create request's text, checked."""

    description: str
    style: str
    name: str | None
    gender: str | None
    age: str | None


def create_inputs(request: CreateRequest) -> CreateInputs:
    """Raises: InvalidInputError (empty or too long description, too long fields, no such style)."""
    description = clean(request.description, MAX_DESCRIPTION, "description")
    if not description:
        raise InvalidInputError("Describe the character.", "invalid.description_empty")
    name = clean(request.name, MAX_NAME, "name")
    gender = clean(request.gender, MAX_FACT, "gender")
    age = clean(request.age, MAX_FACT, "age")
    style = request.style or "realistic"
    if style not in STYLES:
        raise InvalidInputError(
            f"{style!r} is not an art style; choose one of {', '.join(STYLES)}.",
            "invalid.choice",
            value=style,
            what="style",
            choices=", ".join(STYLES),
        )
    return CreateInputs(description, style, name, gender, age)


def regenerate_instruction(instruction: str | None) -> str | None:
    """The optional extra instruction of a regeneration. Raises: InvalidInputError."""
    return clean(instruction, MAX_INSTRUCTION, "instruction")


def variant_inputs(instruction: str, theme_name: str | None) -> tuple[str, str]:
    """A variant's instruction (required) and theme name ("Variations" when none is given).

    Raises: InvalidInputError.
    """
    text = clean(instruction, MAX_INSTRUCTION, "instruction")
    if not text:
        raise InvalidInputError("Say how to change the image.", "invalid.instruction_empty")
    return text, clean(theme_name, MAX_THEME_NAME, "theme name") or DEFAULT_THEME


def placeholder_values(inputs: CreateInputs) -> dict[str, Any]:
    """The pending character a create fills in once drawn (deleted if it fails), as its
    attributes (the member's is ``user_id``)."""
    return {
        "name": inputs.name,
        "description": inputs.description,
        "prompt": inputs.description,
        "style_type": inputs.style,
        "gender": inputs.gender,
        "age": inputs.age,
        "generation_status": "pending",
        "meta": {SOURCE: FROM_DISCORD, ART_STYLE: inputs.style, GENDER: inputs.gender},
    }


def placeholder_character(user_id: str, inputs: CreateInputs) -> Character:
    """The pending character (:func:`placeholder_values`) as a row to add."""
    return Character(user_id=user_id, **placeholder_values(inputs))


def apply_attributes(row: Character, optimized: PromptResult, inputs: CreateInputs) -> None:
    """The text model's attributes and prompt onto ``row``; what the member gave wins."""
    attrs = optimized.attributes
    row.name = inputs.name or attrs.name
    row.prompt = optimized.prompt
    row.age = inputs.age or attrs.age
    row.gender = inputs.gender or attrs.gender
    row.occupation = attrs.occupation
    row.personality = list(attrs.personality)
    row.physical_traits = dict(attrs.physical_traits)
    row.clothing = attrs.clothing
    row.background = attrs.background
    row.tags = list(dict.fromkeys([inputs.style, *attrs.tags]))[:MAX_TAGS]
