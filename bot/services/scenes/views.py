"""A scene as shown: its cast in order, each character's owner named when not the scene's
creator, never by a name holding their Discord id (a session helper the scene use cases
share)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.accounts import public_name
from bot.services.scenes.model import CastMember, SceneView
from db.models import Character, User
from db.scene_models import Scene, SceneCharacter


async def scene_view(session: AsyncSession, scene: Scene) -> SceneView:
    """The scene with its cast in order (owners named when they are not its creator)."""
    rows = (
        await session.execute(
            select(Character, User.display_name, User.username, User.auth0_id)
            .join(SceneCharacter, SceneCharacter.character_id == Character.id)
            .join(User, User.id == Character.user_id)
            .where(SceneCharacter.scene_id == scene.id)
            .order_by(SceneCharacter.position)
        )
    ).all()
    cast = [
        CastMember(
            character,
            None
            if character.user_id == scene.user_id
            else (public_name(display, username, identity) or "someone"),
        )
        for character, display, username, identity in rows
    ]
    return SceneView(scene, cast)
