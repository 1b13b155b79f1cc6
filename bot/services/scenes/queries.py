"""The member's scenes: list, show, delete, publish/unpublish, the favorite mark, the message
and thread that show a scene, and the scene a thread belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFoundError, NotOwnerError
from bot.services.characters import is_valid_id
from bot.services.deleting import delete_loaded
from bot.services.pagination import Page, apply_keyset, clamp_limit, keyset_page, parse_cursor
from bot.services.scenes.model import SceneView
from bot.services.scenes.views import scene_view
from bot.storage.base import Storage, delete_quietly
from db.engine import Database
from db.meta import CHANNEL_ID, CONVERSATION_ID, FAVORITE, MESSAGE_ID, STORAGE_KEY_FIELDS, Meta
from db.models import User
from db.scene_models import Scene, SceneGeneration


@dataclass(frozen=True)
class SceneThread:
    """The scene whose conversation a thread is, and its owner."""

    scene_id: str
    owner_user_id: str
    owner_auth0_id: str | None
    owner_language: str


async def get_scene(session: AsyncSession, scene_id: str) -> Scene:
    """Raises: NotFoundError("scene")."""
    scene = await session.get(Scene, scene_id) if is_valid_id(scene_id) else None
    if scene is None or scene.generation_status != "completed":
        raise NotFoundError("scene")
    return scene


async def get_owned_scene(session: AsyncSession, scene_id: str, user_id: str) -> Scene:
    """Raises: NotFoundError("scene"), NotOwnerError."""
    scene = await get_scene(session, scene_id)
    if scene.user_id != user_id:
        raise NotOwnerError()
    return scene


async def owned_scene(db: Database, scene_id: str, user_id: str) -> SceneView:
    """The member's scene with its cast. Raises: NotFoundError("scene"), NotOwnerError."""
    async with db.read() as session:
        return await scene_view(session, await get_owned_scene(session, scene_id, user_id))


async def shown_scene(db: Database, scene_id: str, viewer_user_id: str) -> SceneView:
    """A scene the viewer may see: their own, or a public one.

    Raises: NotFoundError("scene")."""
    async with db.read() as session:
        scene = await get_scene(session, scene_id)
        if scene.user_id != viewer_user_id and not scene.is_public:
            raise NotFoundError("scene")
        return await scene_view(session, scene)


async def scene_image(
    db: Database, storage: Storage, scene_id: str, viewer_user_id: str
) -> tuple[bytes, str]:
    """The scene's image as stored, and its MIME type (its owner, or anyone when public).

    Raises: NotFoundError("scene"), StorageError."""
    found = await shown_scene(db, scene_id, viewer_user_id)
    key = Meta(found.scene.meta).image_key
    if not key:
        raise NotFoundError("scene")
    ext = key.rsplit(".", 1)[-1].lower()
    return await storage.get(key), "image/jpeg" if ext in ("jpg", "jpeg") else f"image/{ext}"


async def scene_page(
    db: Database, user_id: str, *, cursor: str | None = None, limit: int = 10
) -> Page[SceneView]:
    """One page of the member's scenes, newest first (idx_scenes_user_created)."""
    limit = clamp_limit(limit)
    parsed = parse_cursor(cursor) if cursor else None
    stmt = select(Scene).where(Scene.user_id == user_id, Scene.generation_status == "completed")
    stmt = apply_keyset(stmt, Scene.created_at, Scene.id, cursor=parsed, limit=limit, order="desc")
    async with db.read() as session:
        rows = (await session.scalars(stmt)).all()
        page = keyset_page(rows, limit=limit, cursor=parsed, key=lambda s: (s.created_at, s.id))
        items = [await scene_view(session, s) for s in page.items]
    return Page(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


async def scene_choices(db: Database, user_id: str, query: str) -> list[tuple[str, str]]:
    """Autocomplete: the member's scenes whose title or setting matches ``query``."""
    stmt = select(Scene.id, Scene.title, Scene.setting).where(
        Scene.user_id == user_id, Scene.generation_status == "completed"
    )
    if query.strip():
        like = f"%{query.strip().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(Scene.title.ilike(like) | Scene.setting.ilike(like))
    stmt = stmt.order_by(Scene.created_at.desc()).limit(25)
    async with db.read() as session:
        rows = (await session.execute(stmt)).all()
    return [(r.id, (r.title or r.setting)[:100]) for r in rows]


async def set_public(db: Database, scene_id: str, user_id: str, public: bool) -> SceneView:
    """Publish or unpublish the member's scene. Raises: NotFoundError, NotOwnerError."""
    async with db.transaction() as session:
        scene = await get_owned_scene(session, scene_id, user_id)
        scene.is_public = public
        await session.flush()
        return await scene_view(session, scene)


def is_favorite(scene: Scene) -> bool:
    """Whether the owner marked the scene a favorite (``metadata.favorite``)."""
    return bool((scene.meta or {}).get(FAVORITE))


async def toggle_favorite(db: Database, scene_id: str, user_id: str) -> SceneView:
    """Flip the owner's favorite mark. Raises: NotFoundError, NotOwnerError."""
    async with db.transaction() as session:
        scene = await get_owned_scene(session, scene_id, user_id)
        scene.meta = {**(scene.meta or {}), FAVORITE: not is_favorite(scene)}
        await session.flush()
        return await scene_view(session, scene)


async def delete_scene(db: Database, storage: Storage, scene_id: str, user_id: str) -> str:
    """Delete the member's scene, its variants' rows and every stored image; its title.

    Raises: NotFoundError, NotOwnerError."""
    async with db.transaction() as session:
        scene = await get_owned_scene(session, scene_id, user_id)
        links = (
            await session.scalars(
                select(SceneGeneration).where(SceneGeneration.scene_id == scene.id)
            )
        ).all()
        keys = {k for m in [scene.meta, *(g.meta for g in links)] for k in _keys(m)}
        name = scene.title or scene.setting
        await delete_loaded(session, scene, "scene")
    await delete_quietly(storage, sorted(keys))
    return name


def _keys(meta: dict[str, object] | None) -> list[str]:
    view = Meta(meta)
    return [k for k in (view.text(f) for f in STORAGE_KEY_FIELDS) if k]


async def record_scene_message(
    db: Database, scene_id: str, *, channel_id: int, message_id: int, thread_id: int | None
) -> None:
    """Remember the message showing the scene and the thread that is its conversation."""
    async with db.transaction() as session:
        scene = await session.get(Scene, scene_id, with_for_update=True)
        if scene is None:
            return
        meta = {**(scene.meta or {}), CHANNEL_ID: str(channel_id), MESSAGE_ID: str(message_id)}
        if thread_id is not None:
            meta[CONVERSATION_ID] = str(thread_id)
        scene.meta = meta


async def scene_in_thread(db: Database, thread_id: int) -> SceneThread | None:
    """The scene whose conversation is the thread (idx_scenes_conversation_id), or None."""
    conversation = Scene.meta.op("->>")(CONVERSATION_ID)
    async with db.read() as session:
        row = (
            await session.execute(
                select(Scene.id, User.id, User.auth0_id, User.preferred_language)
                .join(User, User.id == Scene.user_id)
                .where(Scene.meta.has_key(CONVERSATION_ID), conversation == str(thread_id))
                .order_by(Scene.created_at.desc())
                .limit(1)
            )
        ).one_or_none()
    if row is None:
        return None
    return SceneThread(row[0], row[1], row[2], row[3] or "en")
