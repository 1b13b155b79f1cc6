"""Public scenes for /gallery browse kind:scenes, newest first: a scene shows only while the
rule of :func:`bot.services.visibility.scene_in_gallery` holds (every character in it still
public or its creator's own, and none hidden in the guild)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import aliased

from bot.services.accounts import public_name
from bot.services.pagination import Page, apply_keyset, clamp_limit, keyset_page, parse_cursor
from bot.services.scenes.model import SceneView
from bot.services.scenes.views import scene_view
from bot.services.visibility import scene_in_gallery
from db.engine import Database
from db.models import User
from db.scene_models import Scene


@dataclass(frozen=True)
class SceneEntry:
    """A gallery scene and its creator's name."""

    view: SceneView
    creator_name: str


async def scene_gallery_page(
    db: Database, cursor: str | None, limit: int, *, guild_id: int | None
) -> Page[SceneEntry]:
    """One keyset page of public scenes, newest first (idx_scenes_public_created).

    Raises: InvalidInputError (a bad cursor)."""
    limit = clamp_limit(limit)
    parsed = parse_cursor(cursor) if cursor else None
    creator = aliased(User)  # not ``User``: the rule's own subqueries must not correlate to it
    stmt = (
        select(Scene, creator.display_name, creator.username, creator.auth0_id)
        .join(creator, creator.id == Scene.user_id)
        .where(scene_in_gallery(guild_id))
    )
    stmt = apply_keyset(stmt, Scene.created_at, Scene.id, cursor=parsed, limit=limit, order="desc")
    async with db.read() as session:
        rows = (await session.execute(stmt)).all()
        page = keyset_page(
            rows, limit=limit, cursor=parsed, key=lambda r: (r[0].created_at, r[0].id)
        )
        items = [
            SceneEntry(await scene_view(session, r[0]), public_name(r[1], r[2], r[3]) or "someone")
            for r in page.items
        ]
    return Page(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)
