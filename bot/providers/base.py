"""The provider protocols: prompt optimisation (text model) and image generation/editing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


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
class SceneReference:
    """One character of a scene as the image model sees it: its name and its portrait."""

    name: str
    image: bytes
    mime_type: str = "image/png"


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
    ) -> ImageResult:
        """Edit ``image`` by ``instruction``; ``history`` holds the earlier turns of the same
        branch, oldest first (at most :data:`MAX_HISTORY_TURNS`).

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
