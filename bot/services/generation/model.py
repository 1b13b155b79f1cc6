"""What goes into a generation and what comes out: the create request, the outcome, and the
progress callback the Discord side passes in, and the metrics it reports to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bot.services.quota import QuotaStatus
from db.models import Character, CharacterTheme, ThemeVariant

Progress = Callable[[str, int | None], Awaitable[None]]
"""Called with a stage (queued, prompt, drawing, saving) and, when queued, the position."""


@runtime_checkable
class WatchesGeneration(Protocol):
    """A progress callback that also wants the generation's id once it exists (to offer a
    Cancel button)."""

    def generation_started(self, generation_id: str) -> None:
        """The generation is charged and recorded; it now waits or runs."""


POST_FIRST_SECONDS = 5.0
"""How long the save of a portrait shown before it is saved waits for that post at most. The
post goes out first and whole: the save's thumbnail and uploads, started at the same moment,
would slow it on a busy host (bench.latency), and would hold the portrait's upload copies at
the same time as the post's (bench.generation's peak memory). Saving after the post takes what
it took before the post was moved ahead of it; a post that hangs does not hold the save
longer than this."""


@runtime_checkable
class ShowsDrawn(Protocol):
    """A progress callback that shows a new character as soon as its portrait is drawn, while
    it is still being saved (the flow waiting for it posts the card from memory)."""

    async def drawn(self, preview: Outcome) -> None:
        """The portrait exists: ``preview`` holds it and the character as it will be saved
        (not yet completed). Returns once its post is done, or after at most
        :data:`POST_FIRST_SECONDS`."""


async def no_progress(stage: str, position: int | None) -> None:
    """The progress callback of a caller that shows none."""


@dataclass(frozen=True)
class RemixOrigin:
    """The character a remix is made from, and its creator, as the remix records them."""

    character_id: str
    creator_user_id: str
    character_name: str
    creator_name: str
    guild_id: int | None = None
    """Where it is made (a character that guild's moderators hid cannot be remixed there)."""


@dataclass(frozen=True)
class CreateRequest:
    """What a member asked for with /character create."""

    user_id: str
    description: str
    style: str = "realistic"
    name: str | None = None
    gender: str | None = None
    age: str | None = None
    reference: bytes | None = None
    reference_mime: str | None = None
    age_restricted: bool = False
    """Whether the channel allows the relaxed content filter (age-restricted, or a DM)."""
    remix: RemixOrigin | None = None
    """Set when the character is a remix of another (checked again with the charge)."""


@dataclass(frozen=True)
class RegenerateRequest:
    """A new portrait of a member's character (its prompt, plus an instruction)."""

    user_id: str
    character_id: str
    instruction: str | None = None
    age_restricted: bool = False


@dataclass(frozen=True)
class VariantRequest:
    """An edit of a character's image: from ``/variant create``, the New variant button, or a
    message in the character's conversation.

    The source is the variant ``source_variant_id``, else the portrait when ``from_portrait``,
    else the newest image when the edit's turn comes. The theme is ``theme_name``, else (in a
    conversation) the theme last used there, else "Variations"."""

    user_id: str
    character_id: str
    instruction: str
    theme_name: str | None = None
    source_variant_id: str | None = None
    from_portrait: bool = False
    conversation_id: str | None = None
    instruction_message_id: str | None = None
    suggested_by: str | None = None
    age_restricted: bool = False
    """Whether the channel allows the relaxed content filter (age-restricted, or a DM)."""
    conversation_theme: bool = True
    """In a conversation with no theme named: the theme last used there (a message), or
    "Variations" all the same (``/variant create``, whose default the design fixes)."""
    character_sheet: bool = False
    """A character sheet (``/character sheet``): marked as such, never checked for likeness
    nor given the previous sheet as a reference."""


@dataclass
class Outcome:
    """What the Discord side needs to post the result."""

    generation_id: str
    character: Character
    image: bytes
    mime_type: str
    quota: QuotaStatus | None
    variant: ThemeVariant | None = None
    theme: CharacterTheme | None = None
    filter_lowered: bool = False
    """The member chose ``relaxed`` but the channel is not age-restricted: ``moderate`` was used."""
    relaxed: bool = False
    """The image was made under ``relaxed``: it may be shown only where that is allowed."""
    timings: dict[str, float] = field(default_factory=dict)


class GenerationMetrics(Protocol):
    """What the generation use case reports (``bot.ops.metrics.BotMetrics`` is one)."""

    def provider_call(self, provider: str, seconds: float, *, ok: bool) -> None:
        """One provider call finished (``provider`` is text or image)."""

    def rate_limited(self, seconds: float) -> None:
        """A provider call waited ``seconds`` for the shared budget."""

    def generation_finished(self, kind: str, outcome: str) -> None:
        """A generation ended (completed, failed or cancelled)."""

    def refunded(self, units: int = 1, source: str = "pipeline") -> None:
        """Quota units were given back."""
