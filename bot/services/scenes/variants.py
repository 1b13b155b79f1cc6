"""A scene variant: an instruction in the scene's conversation edits the scene image (or, in
reply to a variant posted there, that variant); the result is a ``scene_generations`` row of
kind ``variant`` carrying its image keys, its source and its message in ``metadata``.

Why there: a scene variant belongs to the scene, not to any one character, so it cannot be a
``theme_variants`` row (those hang off a character); the seed's ``generations`` has no
metadata column; and a row per generation in ``scene_generations`` is already the scene's
history, deleted with the scene."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy import select

from bot.errors import InvalidInputError, NotFoundError
from bot.providers.base import ImageProvider, ImageResult
from bot.services.characters import is_valid_id
from bot.services.generation.accept import Acceptance, accepting, begin
from bot.services.generation.inputs import variant_inputs
from bot.services.generation.model import Progress
from bot.services.generation.runner import GenerationRunner, Job
from bot.services.generation.steps import DEFAULT_FILTER, finish, generating_user
from bot.services.quota import QuotaStatus
from bot.services.scenes.model import SceneOutcome
from bot.services.scenes.queries import get_owned_scene
from bot.services.scenes.views import scene_view
from bot.storage.images import extension_for
from bot.storage.portraits import store_portrait
from db.engine import Database
from db.meta import (
    CHANNEL_ID,
    CONVERSATION_ID,
    GENERATION_ID,
    IMAGE_KEY,
    IMAGE_MODEL,
    INSTRUCTION_MESSAGE_ID,
    MESSAGE_ID,
    PARENT_VARIANT_ID,
    SOURCE_IMAGE_KEY,
    THUMBNAIL_KEY,
    Meta,
)
from db.scene_models import Scene, SceneGeneration

INSTRUCTION = "instruction"


@dataclass(frozen=True)
class SceneVariantRequest:
    """An instruction for the member's scene, from its conversation."""

    user_id: str
    scene_id: str
    instruction: str
    conversation_id: str | None = None
    instruction_message_id: str | None = None
    replied_message_id: str | None = None


@dataclass(frozen=True)
class _Prepared:
    job: Job
    request: SceneVariantRequest
    instruction: str
    style: str
    content_filter: str
    quota: QuotaStatus


async def _prepare(
    runner: GenerationRunner, request: SceneVariantRequest, acceptance: Acceptance
) -> _Prepared:
    text, _ = variant_inputs(request.instruction, None)
    if acceptance.resumed is None:
        runner.check_open()
    async with runner.db.transaction() as session:
        user = await generating_user(session, request.user_id)
        scene = await get_owned_scene(session, request.scene_id, user.id)
        if not Meta(scene.meta).image_key:
            raise InvalidInputError("This scene has no image yet.", "invalid.no_image")
        generation, quota = await begin(
            session, user, acceptance, prompt=text, style=scene.style_type
        )
        content_filter = user.content_filter_level or DEFAULT_FILTER
        style = scene.style_type or "realistic"
    job = Job(generation.id, "scene_variant", user.id)
    return _Prepared(job, request, text, style, content_filter, quota)


async def _source(runner: GenerationRunner, request: SceneVariantRequest) -> tuple[str, str | None]:
    """The image to edit: the variant replied to, else the scene image; (key, variant id)."""
    async with runner.db.read() as session:
        scene = await get_owned_scene(session, request.scene_id, request.user_id)
        if request.replied_message_id:
            variant = await session.scalar(
                select(SceneGeneration).where(
                    SceneGeneration.scene_id == scene.id,
                    SceneGeneration.kind == "variant",
                    SceneGeneration.meta.op("->>")(MESSAGE_ID) == request.replied_message_id,
                )
            )
            key = Meta(variant.meta).image_key if variant is not None else None
            if variant is not None and key:
                return key, variant.id
        key = Meta(scene.meta).image_key
    if not key:
        raise InvalidInputError("This scene has no image yet.", "invalid.no_image")
    return key, None


async def _draw(
    runner: GenerationRunner,
    images: ImageProvider,
    prepared: _Prepared,
    source_key: str,
    progress: Progress,
) -> ImageResult:
    await progress("drawing", None)
    with prepared.job.timed("storage_get"):
        source = await runner.storage.get(source_key)
    mime = "image/png" if source_key.endswith(".png") else f"image/{source_key.rsplit('.', 1)[-1]}"
    return await runner.call_provider(
        prepared.job,
        "image",
        "drawing",
        progress,
        lambda: images.edit(
            source,
            mime,
            prepared.instruction,
            style=prepared.style,
            content_filter=prepared.content_filter,
        ),
    )


async def _persist(
    runner: GenerationRunner,
    prepared: _Prepared,
    source: tuple[str, str | None],
    image: ImageResult,
    progress: Progress,
) -> SceneOutcome:
    job, request = prepared.job, prepared.request
    await progress("saving", None)
    runner.begin_saving(job)
    if not is_valid_id(request.scene_id):  # pragma: no cover - checked in prepare
        raise NotFoundError("scene")
    key = f"scenes/{request.scene_id}/variants/{uuid.uuid4()}.{extension_for(image.mime_type)}"
    stored = await store_portrait(
        runner.storage, key, image.data, image.mime_type, stored=job.stored_keys, timer=job.timed
    )
    meta: dict[str, str] = {
        IMAGE_KEY: stored.image_key,
        THUMBNAIL_KEY: stored.thumbnail_key,
        IMAGE_MODEL: image.model,
        GENERATION_ID: job.generation_id,
        INSTRUCTION: prepared.instruction,
        SOURCE_IMAGE_KEY: source[0],
    }
    extras = {
        PARENT_VARIANT_ID: source[1],
        CONVERSATION_ID: request.conversation_id,
        INSTRUCTION_MESSAGE_ID: request.instruction_message_id,
    }
    meta.update({k: v for k, v in extras.items() if v})

    async def write() -> SceneGeneration:
        async with runner.db.transaction() as session:
            scene = await session.get(Scene, request.scene_id, with_for_update=True)
            if scene is None:
                raise NotFoundError("scene")
            link = SceneGeneration(
                scene_id=scene.id, generation_id=job.generation_id, kind="variant", meta=meta
            )
            session.add(link)
            await session.flush()
            await finish(session, job, user_id=job.user_id, new_character=False)
        return link

    with job.timed("db_persist"):
        link = await runner.write(progress, write)
    async with runner.db.read() as session:
        view = await scene_view(
            session, await get_owned_scene(session, request.scene_id, request.user_id)
        )
    outcome = SceneOutcome(job.generation_id, view, image.data, image.mime_type, prepared.quota)
    outcome.variant = link
    return outcome


async def create_scene_variant(
    runner: GenerationRunner,
    images: ImageProvider,
    request: SceneVariantRequest,
    progress: Progress,
    *,
    turn: AbstractAsyncContextManager[None] | None = None,
    acceptance: Acceptance | None = None,
) -> SceneOutcome:
    """Edit the scene image (or the variant replied to) with the instruction; one unit.

    Raises:
        NotFoundError, NotOwnerError, InvalidInputError, QuotaExceededError,
        AccountRestrictedError, GenerationError, GenerationCancelled, StorageError.
    """
    acceptance = acceptance or accepting(runner, "scene_variant", request, progress)
    async with runner.accepting():
        prepared = await _prepare(runner, request, acceptance)

    async def work() -> SceneOutcome:
        source = await _source(runner, request)
        image = await _draw(runner, images, prepared, source[0], progress)
        return await _persist(runner, prepared, source, image, progress)

    return await runner.run(prepared.job, progress, work, turn=turn)


async def record_variant_message(
    db: Database, variant_id: str, *, channel_id: int, message_id: int
) -> None:
    """Remember the message that shows a scene variant (a reply to it edits that image)."""
    if not is_valid_id(variant_id):
        return
    async with db.transaction() as session:
        link = await session.get(SceneGeneration, variant_id, with_for_update=True)
        if link is not None:
            link.meta = {
                **(link.meta or {}),
                CHANNEL_ID: str(channel_id),
                MESSAGE_ID: str(message_id),
            }
