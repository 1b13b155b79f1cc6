"""Describe: a picture read into the attributes a create produces. The Gemini text model is
asked with the image attached (the schema below is its response schema); the offline reader
derives the attributes deterministically from the picture's own colours and shape."""

from __future__ import annotations

import functools
import io
from collections import Counter

from google.genai import types
from PIL import Image
from pydantic import ValidationError

from bot.providers.base import CharacterAttributes, PictureDescription
from bot.providers.gemini_attributes import AttributesDocument, parse_attributes

STYLE_NAMES = ("realistic", "anime", "cartoon", "fantasy", "cyberpunk", "vintage", "minimalist")

DESCRIBE_INSTRUCTION = (
    "You design characters for an image generator. Look at the attached picture and describe "
    "the character it shows (or the character it suggests, when it shows none) as the "
    "attributes of a new character: a fitting name, age, gender, occupation, 3 to 6 "
    "personality adjectives, physical traits, clothing, two or three sentences of backstory, "
    "3 to 8 short lowercase tags. image_prompt: one paragraph of at most 120 words describing "
    "the character's portrait as the picture shows it. style: the art style the picture is "
    "closest to, one of " + ", ".join(STYLE_NAMES) + ". Write in English."
)


class DescriptionDocument(AttributesDocument):
    """The attributes document, plus the art style the picture looks like."""

    style: str | None = None


@functools.cache
def description_schema() -> types.Schema | type[DescriptionDocument]:
    """The response schema of a describe request, converted once (see attributes_schema)."""
    try:
        from google.genai import _transformers

        converted = _transformers.t_schema(None, DescriptionDocument)
    except Exception:  # noqa: BLE001 - an SDK without the helper: the slower, same request
        return DescriptionDocument
    return converted if converted is not None else DescriptionDocument


def parse_description(answer: str, *, finish: str, model: str) -> PictureDescription:
    """The text model's JSON answer to a describe request.

    Raises:
        ProviderError: ``invalid_response`` when the answer is not the schema.
    """
    result = parse_attributes(answer, finish=finish, model=model)
    try:
        style = (DescriptionDocument.model_validate_json(answer).style or "").strip().lower()
    except ValidationError:  # pragma: no cover - parse_attributes read the same answer
        style = ""
    if style not in STYLE_NAMES:
        style = next((t for t in result.attributes.tags if t in STYLE_NAMES), "realistic")
    return PictureDescription(
        attributes=result.attributes,
        description=result.prompt[:2000],
        style=style,
        model=model,
    )


# -- offline -------------------------------------------------------------------------------

_COLOUR_NAMES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("black", (20, 20, 20)),
    ("white", (240, 240, 240)),
    ("grey", (128, 128, 128)),
    ("red", (200, 40, 40)),
    ("orange", (230, 130, 40)),
    ("yellow", (230, 210, 60)),
    ("green", (60, 160, 70)),
    ("teal", (40, 150, 150)),
    ("blue", (50, 90, 200)),
    ("purple", (130, 60, 170)),
    ("pink", (235, 140, 180)),
    ("brown", (120, 80, 50)),
)
_NAMES_BY_COLOUR = {
    "black": "Raven",
    "white": "Neve",
    "grey": "Ash",
    "red": "Scarlett",
    "orange": "Amber",
    "yellow": "Sunny",
    "green": "Ivy",
    "teal": "Marin",
    "blue": "Azura",
    "purple": "Violet",
    "pink": "Rosa",
    "brown": "Hazel",
}
_STYLE_BY_COLOUR = {
    "black": "cyberpunk",
    "purple": "fantasy",
    "pink": "anime",
    "yellow": "cartoon",
    "orange": "cartoon",
    "brown": "vintage",
    "white": "minimalist",
    "grey": "minimalist",
}


def _colour_name(rgb: tuple[int, ...]) -> str:
    return min(
        _COLOUR_NAMES,
        key=lambda item: sum((a - b) ** 2 for a, b in zip(item[1], rgb, strict=True)),
    )[0]


def dominant_colours(data: bytes, count: int = 3) -> list[str]:
    """The picture's main colours by name, most present first (empty when unreadable)."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            small = opened.convert("RGB").resize((24, 24))
    except (OSError, ValueError, Image.DecompressionBombError):
        return []
    pixels = [small.getpixel((x, y)) for x in range(24) for y in range(24)]
    names = Counter(_colour_name(p) for p in pixels if isinstance(p, tuple))
    return [name for name, _ in names.most_common(count)]


def describe_offline(data: bytes, model: str) -> PictureDescription:
    """A deterministic reading of the picture: its dominant colours name the character, set
    its palette and pick the style."""
    colours = dominant_colours(data) or ["grey"]
    main = colours[0]
    palette = " and ".join(colours)
    attributes = CharacterAttributes(
        name=_NAMES_BY_COLOUR.get(main, "Character"),
        personality=["calm", "curious", "bold"],
        physical_traits={"palette": palette},
        clothing=f"{main} clothes",
        background=f"A character drawn from a picture in {palette}.",
        tags=[*colours, "from-picture"],
    )
    description = f"A character in {palette} tones, as in the picture, wearing {main} clothes."
    return PictureDescription(
        attributes=attributes,
        description=description,
        style=_STYLE_BY_COLOUR.get(main, "realistic"),
        model=model,
    )
