"""Scenes: two to four characters drawn together from their portraits (DESIGN.md §1)."""

from bot.services.scenes.cast import cast_choices, resolve_cast, short_id, split_cast
from bot.services.scenes.create import create_scene
from bot.services.scenes.model import (
    MAX_CAST,
    MIN_CAST,
    CastMember,
    SceneOutcome,
    SceneRequest,
    SceneView,
)
from bot.services.scenes.queries import (
    SceneThread,
    delete_scene,
    is_favorite,
    owned_scene,
    record_scene_message,
    scene_choices,
    scene_image,
    scene_in_thread,
    scene_page,
    set_public,
    shown_scene,
    toggle_favorite,
)
from bot.services.scenes.variants import (
    SceneVariantRequest,
    create_scene_variant,
    record_variant_message,
)

__all__ = [
    "MAX_CAST",
    "MIN_CAST",
    "CastMember",
    "SceneOutcome",
    "SceneRequest",
    "SceneThread",
    "SceneVariantRequest",
    "SceneView",
    "cast_choices",
    "create_scene",
    "create_scene_variant",
    "delete_scene",
    "is_favorite",
    "owned_scene",
    "record_scene_message",
    "record_variant_message",
    "resolve_cast",
    "scene_choices",
    "scene_image",
    "scene_in_thread",
    "scene_page",
    "set_public",
    "short_id",
    "shown_scene",
    "split_cast",
    "toggle_favorite",
]
