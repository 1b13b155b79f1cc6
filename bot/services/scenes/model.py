"""What a scene use case takes and gives back: the request of /scene create (and of
Regenerate), a scene with its cast as shown, and the outcome the Discord side posts."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.services.quota import QuotaStatus
from db.models import Character
from db.scene_models import Scene, SceneGeneration

MIN_CAST = 2
MAX_CAST = 4
MAX_SETTING = 500
MAX_TITLE = 100


@dataclass(frozen=True)
class SceneRequest:
    """/scene create: the cast as typed (comma-separated ids, short ids or names), the
    setting, the style and the title; ``guild_id`` is where it was asked (characters that
    guild's moderators hid cannot be cast there)."""

    user_id: str
    characters: str
    setting: str
    style: str | None = None
    title: str | None = None
    guild_id: int | None = None


@dataclass(frozen=True)
class SceneJob:
    """A scene's generation as its job keeps it: the request, and the scene drawn again
    (Regenerate) or None for a new one."""

    request: SceneRequest
    scene_id: str | None = None


@dataclass(frozen=True)
class CastMember:
    """A character in a scene and its owner's name (None when the scene's creator owns it)."""

    character: Character
    owner_name: str | None


@dataclass(frozen=True)
class SceneView:
    """A scene with its cast in order."""

    scene: Scene
    cast: list[CastMember]

    @property
    def names(self) -> list[str]:
        """The cast's names, in order."""
        return [m.character.name or "?" for m in self.cast]


@dataclass
class SceneOutcome:
    """What the Discord side needs to post a scene or a scene variant."""

    generation_id: str
    view: SceneView
    image: bytes
    mime_type: str
    quota: QuotaStatus | None
    variant: SceneGeneration | None = None
    timings: dict[str, float] = field(default_factory=dict)
