"""/scene create and Regenerate: prepare (the cast checked, one unit charged, a pending
generation) → the portraits, in order, to the image model with the composed prompt → persist
(the image stored; the scene, its cast and its generation link written in one transaction).

A scene row exists only once its image does: a refused, failed or cancelled scene leaves its
failed (refunded) generation and nothing else."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from bot.errors import InvalidInputError, NotFoundError, NotOwnerError, StorageError
from bot.providers.base import ImageProvider, ImageResult, SceneReference
from bot.services.characters import clean_text, is_valid_id
from bot.services.generation.accept import Acceptance, accepting, begin
from bot.services.generation.model import Progress
from bot.services.generation.runner import GenerationRunner, Job
from bot.services.generation.sheet import sheet_image_key
from bot.services.generation.steps import DEFAULT_FILTER, finish, generating_user
from bot.services.quota import QuotaStatus
from bot.services.scenes.cast import resolve_cast
from bot.services.scenes.model import (
    MAX_SETTING,
    MAX_TITLE,
    SceneJob,
    SceneOutcome,
    SceneRequest,
)
from bot.services.scenes.prompt import scene_prompt
from bot.services.scenes.views import scene_view
from bot.storage.images import extension_for
from bot.storage.portraits import store_portrait
from db.meta import GENERATION_ID, IMAGE_KEY, IMAGE_MODEL, THUMBNAIL_KEY, Meta
from db.models import STYLES, Character
from db.scene_models import Scene, SceneCharacter, SceneGeneration

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Prepared:
    job: Job
    scene_id: str
    existing: bool
    cast: list[Character]
    sheet_keys: dict[str, str]
    """The cast's character sheets (character id → image key), sent as extra references."""
    setting: str
    title: str | None
    style: str
    prompt: str
    content_filter: str
    quota: QuotaStatus


def scene_image_key(scene_id: str, ext: str) -> str:
    """A fresh key ``scenes/<id>/<uuid4>.<ext>``."""
    if not is_valid_id(scene_id):
        msg = f"unsafe scene id for a storage key: {scene_id!r}"
        raise ValueError(msg)
    return f"scenes/{scene_id}/{uuid.uuid4()}.{ext}"


def _clean(request: SceneRequest) -> tuple[str, str | None, str | None]:
    setting = clean_text(
        request.setting, field="setting", label="setting", max_length=MAX_SETTING, required=True
    )
    title = clean_text(request.title, field="title", label="title", max_length=MAX_TITLE)
    style = request.style
    if style is not None and style not in STYLES:
        raise InvalidInputError("Unknown art style.", "invalid.style", value=style)
    return setting or "", title, style


async def _prepare(
    runner: GenerationRunner, request: SceneRequest, scene_id: str | None, acceptance: Acceptance
) -> _Prepared:
    setting, title, style = _clean(request) if scene_id is None else ("", None, None)
    if acceptance.resumed is None:
        runner.check_open()
    async with runner.db.transaction() as session:
        user = await generating_user(session, request.user_id)
        typed = request.characters
        if scene_id is not None:  # Regenerate: the same cast, still castable
            scene = await session.get(Scene, scene_id) if is_valid_id(scene_id) else None
            if scene is None:
                raise NotFoundError("scene")
            if scene.user_id != user.id:
                raise NotOwnerError()
            view = await scene_view(session, scene)
            typed = ", ".join(m.character.id for m in view.cast)
            setting, title, style = scene.setting, scene.title, scene.style_type
        try:
            cast = await resolve_cast(session, typed, user.id, request.guild_id)
        except InvalidInputError as exc:  # Regenerate: name the character, not its id
            if scene_id is None or "item" not in exc.params:
                raise
            names = {m.character.id: m.character.name or "?" for m in view.cast}
            item = str(exc.params["item"])
            raise InvalidInputError(str(exc), exc.reason_key, item=names.get(item, item)) from None
        style = style or cast[0].style_type or "realistic"
        sheet_keys = {
            character.id: key
            for character in cast
            if (key := await sheet_image_key(session, character.id))
        }
        prompt = scene_prompt(cast, setting, title)
        generation, quota = await begin(session, user, acceptance, prompt=prompt, style=style)
        content_filter = user.content_filter_level or DEFAULT_FILTER
    kind = "scene" if scene_id is None else "scene_regenerate"
    job = Job(generation.id, kind, user.id)
    return _Prepared(
        job,
        scene_id or str(uuid.uuid4()),
        scene_id is not None,
        cast,
        sheet_keys,
        setting,
        title,
        style,
        prompt,
        content_filter,
        quota,
    )


async def _draw(
    runner: GenerationRunner, images: ImageProvider, prepared: _Prepared, progress: Progress
) -> ImageResult:
    job = prepared.job
    await progress("drawing", None)
    references: list[SceneReference] = []
    with job.timed("storage_get"):
        for character in prepared.cast:
            key = Meta(character.meta).image_key or ""
            mime = "image/png" if key.endswith(".png") else f"image/{key.rsplit('.', 1)[-1]}"
            data = await runner.storage.get(key)
            sheet = await _sheet(runner, prepared.sheet_keys.get(character.id))
            references.append(SceneReference(character.name or "?", data, mime, sheet))
    return await runner.call_provider(
        job,
        "image",
        "drawing",
        progress,
        lambda: images.compose(
            prepared.prompt,
            references,
            style=prepared.style,
            content_filter=prepared.content_filter,
        ),
    )


async def _sheet(runner: GenerationRunner, key: str | None) -> bytes | None:
    """A character's sheet, which the scene can do without: None when there is none or it
    cannot be read (logged)."""
    if not key:
        return None
    try:
        return await runner.storage.get(key)
    except StorageError:
        log.warning("the character sheet %s cannot be read; the scene goes on without it", key)
        return None


async def _persist(
    runner: GenerationRunner, prepared: _Prepared, image: ImageResult, progress: Progress
) -> SceneOutcome:
    job = prepared.job
    await progress("saving", None)
    runner.begin_saving(job)
    ext = extension_for(image.mime_type)
    stored = await store_portrait(
        runner.storage,
        scene_image_key(prepared.scene_id, ext),
        image.data,
        image.mime_type,
        stored=job.stored_keys,
        timer=job.timed,
    )
    keys = {
        IMAGE_KEY: stored.image_key,
        THUMBNAIL_KEY: stored.thumbnail_key,
        IMAGE_MODEL: image.model,
        GENERATION_ID: job.generation_id,
    }

    async def write() -> tuple[Scene, SceneGeneration]:
        async with runner.db.transaction() as session:
            if prepared.existing:
                scene = await session.get(Scene, prepared.scene_id, with_for_update=True)
                if scene is None:
                    raise NotFoundError("scene")
                scene.meta = {**(scene.meta or {}), **keys}
            else:
                scene = Scene(
                    id=prepared.scene_id,
                    user_id=job.user_id,
                    title=prepared.title,
                    setting=prepared.setting,
                    style_type=prepared.style,
                    meta=dict(keys),
                )
                session.add(scene)
                await session.flush()
                for position, character in enumerate(prepared.cast):
                    session.add(
                        SceneCharacter(
                            scene_id=scene.id, character_id=character.id, position=position
                        )
                    )
            scene.prompt = prepared.prompt
            scene.image_url = stored.image_url
            scene.thumbnail_url = stored.thumbnail_url
            scene.generation_status = "completed"
            link = SceneGeneration(
                scene_id=scene.id,
                generation_id=job.generation_id,
                kind="regenerate" if prepared.existing else "create",
                meta=dict(keys),
            )
            session.add(link)
            await session.flush()
            await finish(session, job, user_id=job.user_id, new_character=False)
            await session.refresh(scene)
            view = await scene_view(session, scene)
        return view.scene, link

    with job.timed("db_persist"):
        await runner.write(progress, write)
    async with runner.db.read() as session:
        loaded = await session.get(Scene, prepared.scene_id)
        if loaded is None:  # pragma: no cover - just written
            raise NotFoundError("scene")
        view = await scene_view(session, loaded)
    return SceneOutcome(job.generation_id, view, image.data, image.mime_type, prepared.quota)


async def create_scene(
    runner: GenerationRunner,
    images: ImageProvider,
    request: SceneRequest,
    progress: Progress,
    *,
    scene_id: str | None = None,
    acceptance: Acceptance | None = None,
) -> SceneOutcome:
    """Draw a scene of two to four characters from their portraits (a new one, or with
    ``scene_id`` the member's scene again, same cast and setting), one unit of quota.

    Raises:
        InvalidInputError (cast, setting), NotFoundError, NotOwnerError, QuotaExceededError,
        AccountRestrictedError, GenerationError, GenerationCancelled, StorageError.
    """
    job_request = SceneJob(request, scene_id)
    acceptance = acceptance or accepting(runner, "scene", job_request, progress)
    async with runner.accepting():
        prepared = await _prepare(runner, request, scene_id, acceptance)

    async def work() -> SceneOutcome:
        image = await _draw(runner, images, prepared, progress)
        return await _persist(runner, prepared, image, progress)

    return await runner.run(prepared.job, progress, work)
