"""The card's shape: the Character Card V2/V3 constants, the limits an imported card must keep,
what a parsed card is (:class:`CardData`), and the errors a bad card raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import InvalidInputError

PROJECT_EXTENSION = "charbot"
EXTENSION_VERSION = 1
SPEC, SPEC_VERSION = "chara_card_v2", "2.0"
SPEC_V3, SPEC_V3_VERSION = "chara_card_v3", "3.0"
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
"""Repeated at the top level of V2 and V3 cards, for readers that know only V1."""
MAX_CARD_BYTES = 10 * 1024 * 1024
# The limits of /character create, /character edit and /theme create, so an import stays editable.
MAX_NAME, MAX_DESCRIPTION, MAX_ATTRIBUTE, MAX_SHORT = 100, 2000, 1000, 100
MAX_PROMPT, MAX_THEME_NAME, MAX_THEME_DESCRIPTION = 4000, 50, 200
MAX_TRAITS, MAX_THEMES, MAX_VARIANTS, MAX_TAGS, MAX_TAG = 30, 25, 200, 20, 50
MAX_IMAGE_SIDE = 4096


@dataclass(frozen=True)
class CardVariant:
    """A variant listed in a charbot card; its URLs point at the exporter's storage."""

    theme: str
    prompt: str
    image_url: str | None
    thumbnail_url: str | None = None
    asset: str | None = None
    """The URI of the card's asset that holds this variant's image (V3 cards)."""


@dataclass(frozen=True)
class CardAsset:
    """An image a card carries itself (a ``data:`` URL or a ``.charx`` entry), to become a
    variant of ``theme``; checked as an image only when stored."""

    theme: str
    prompt: str
    data: bytes
    mime: str


@dataclass(frozen=True)
class CardData:
    """A card read by :func:`parse_card`; empty text means absent, ``style`` None = default."""

    name: str
    description: str
    personality: str
    scenario: str
    first_mes: str
    tags: list[str]
    creator: str
    style: str | None
    age: str | None
    gender: str | None
    occupation: str | None
    personality_traits: list[str]
    clothing: str | None
    physical_traits: dict[str, str]
    prompt: str | None
    themes: list[str]
    variants: list[CardVariant]
    image: bytes | None
    image_mime: str | None
    theme_descriptions: dict[str, str] = field(default_factory=dict)
    from_charbot: bool = False
    assets: list[CardAsset] = field(default_factory=list)
    skipped_assets: int = 0
    """Assets left out: links (never fetched), sounds and other files, unreadable images."""


def not_a_card(reason: str = "That file is not a character card.") -> InvalidInputError:
    return InvalidInputError(reason, reason_key="invalid.card.not_a_card")


def bad_json(detail: str) -> InvalidInputError:
    return InvalidInputError(
        f"The card's data is damaged ({detail}).", reason_key="invalid.card.bad_json"
    )


def bad_image() -> InvalidInputError:
    return InvalidInputError(
        "The card's picture is damaged or too large to read.", reason_key="invalid.card.bad_image"
    )


def too_long(label: str, length: int, limit: int) -> InvalidInputError:
    return InvalidInputError(
        f"The card's {label} is too long ({length} characters; at most {limit}).",
        reason_key="invalid.card.field_too_long",
        field=label,
        length=length,
        max=limit,
    )


def fit(value: str, label: str, limit: int) -> str:
    if len(value) > limit:
        raise too_long(label, len(value), limit)
    return value
