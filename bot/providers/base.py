"""The provider protocols: prompt optimisation (text model) and image generation/editing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class CharacterAttributes:
    """Structured attributes of a character, as the text model (or the rule-based builder)
    extracted them from the member's description."""

    name: str
    age: str | None = None
    gender: str | None = None
    occupation: str | None = None
    personality: list[str] = field(default_factory=list)
    physical_traits: dict[str, str] = field(default_factory=dict)
    clothing: str | None = None
    background: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PromptResult:
    """Attributes plus the optimised image prompt, and the model that produced them."""

    attributes: CharacterAttributes
    prompt: str
    model: str


@dataclass(frozen=True)
class PictureDescription:
    """A picture read by the text model (or the offline reader): the attributes a create would
    produce, a description to create the character from, and the art style it looks like."""

    attributes: CharacterAttributes
    description: str
    style: str
    model: str


@dataclass(frozen=True)
class ImageResult:
    """One generated or edited image."""

    data: bytes
    mime_type: str
    model: str


@dataclass(frozen=True)
class EditTurn:
    """An earlier edit of the same branch of a conversation: what was asked, and the image it
    gave. Sent before the current edit, so the model keeps what earlier turns did."""

    instruction: str
    image: bytes
    mime_type: str = "image/png"


@dataclass(frozen=True)
class LikenessScore:
    """How much a new image still looks like the character's reference (0-100), and why."""

    score: int
    reason: str
    model: str


@dataclass(frozen=True)
class SceneReference:
    """One character of a scene as the image model sees it: its name, its portrait, and its
    character sheet when it has one (sent after the portrait as an extra reference)."""

    name: str
    image: bytes
    mime_type: str = "image/png"
    sheet: bytes | None = None


MAX_HISTORY_TURNS = 3
"""The most earlier turns an edit carries (the newest ones)."""


class PromptOptimizer(Protocol):
    """Turns a free-text description into attributes and an optimised image prompt."""

    async def optimize(
        self,
        description: str,
        *,
        style: str,
        name: str | None = None,
        gender: str | None = None,
        age: str | None = None,
        content_filter: str = "moderate",
    ) -> PromptResult:
        """Raises: GenerationError on provider failure."""
        ...

    async def describe(
        self, image: bytes, mime_type: str, *, content_filter: str = "moderate"
    ) -> PictureDescription:
        """The character a picture shows, as attributes, a description and a style.

        Raises: GenerationError on provider failure.
        """
        ...


class ImageProvider(Protocol):
    """Draws a portrait from a prompt, or edits an existing image with an instruction."""

    async def generate(
        self,
        prompt: str,
        *,
        style: str,
        content_filter: str = "moderate",
        reference: bytes | None = None,
        reference_mime: str | None = None,
    ) -> ImageResult:
        """Raises: GenerationError on provider failure."""
        ...

    async def edit(
        self,
        image: bytes,
        mime_type: str,
        instruction: str,
        *,
        style: str,
        content_filter: str = "moderate",
        history: Sequence[EditTurn] = (),
        references: Sequence[bytes] = (),
    ) -> ImageResult:
        """Edit ``image`` by ``instruction``; ``history`` holds the earlier turns of the same
        branch, oldest first (at most :data:`MAX_HISTORY_TURNS`); ``references`` are extra
        images of the same character (PNG; the character sheet), sent after ``image``.

        Raises: GenerationError on provider failure."""
        ...

    async def compose(
        self,
        prompt: str,
        references: Sequence[SceneReference],
        *,
        style: str,
        content_filter: str = "moderate",
    ) -> ImageResult:
        """Draw a scene of several characters: ``references`` are their portraits, in the
        order the prompt names them; each is to stay recognisable.

        Raises: GenerationError on provider failure."""
        ...


@runtime_checkable
class LikenessJudge(Protocol):
    """Scores how much a new image still shows the same character as a reference image."""

    async def compare_likeness(
        self,
        reference: bytes,
        image: bytes,
        *,
        reference_mime: str = "image/png",
        image_mime: str = "image/png",
    ) -> LikenessScore:
        """Raises: GenerationError on provider failure or an unusable answer."""
        ...
