"""Variant: prepare (the owner's finished character, charged, pending generation) → provider
(its current image edited with an instruction) → persist (store it, file it under a theme,
created when missing)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import InvalidInputError
from bot.providers.base import ImageProvider, ImageResult
from bot.services.characters import get_owned_character
from bot.services.generation.inputs import variant_inputs
from bot.services.generation.model import Outcome, Progress
from bot.services.generation.records import start_generation
from bot.services.generation.runner import GenerationRunner, Job
from bot.services.generation.steps import (
    DEFAULT_FILTER,
    finish,
    generating_user,
    lock_member,
    locked_character,
    store_drawn,
)
from bot.services.quota import QuotaStatus, charge
from bot.services.themes import get_or_create_theme
from db.meta import FROM_DISCORD, GENERATION_ID, IMAGE_KEY, IMAGE_MODEL, SOURCE, THUMBNAIL_KEY, Meta
from db.models import ThemeVariant


@dataclass(frozen=True)
class _Prepared:
    job: Job
    character_id: str
    instruction: str
    theme: str
    source_key: str
    style: str
    content_filter: str
    quota: QuotaStatus


async def _prepare(
    runner: GenerationRunner,
    user_id: str,
    character_id: str,
    instruction: str,
    theme_name: str | None,
) -> _Prepared:
    text, theme = variant_inputs(instruction, theme_name)
    runner.check_open()
    async with runner.db.transaction() as session:
        user = await generating_user(session, user_id)
        character = await get_owned_character(session, character_id, user.id)
        source_key = Meta(character.meta).image_key
        if character.generation_status != "completed" or not source_key:
            raise InvalidInputError(
                "This character has no finished image to edit yet.", "invalid.no_image"
            )
        quota = await charge(session, user.id)
        generation = await start_generation(
            session,
            user_id=user.id,
            prompt=text,
            style=character.style_type,
            character_id=character.id,
        )
        content_filter = user.content_filter_level or DEFAULT_FILTER
        style = character.style_type or "realistic"
    job = Job(generation.id, "variant", user.id)
    return _Prepared(job, character_id, text, theme, source_key, style, content_filter, quota)


async def _draw(
    runner: GenerationRunner, images: ImageProvider, prepared: _Prepared, progress: Progress
) -> ImageResult:
    job = prepared.job
    await progress("drawing", None)
    with job.timed("storage_get"):
        source = await runner.storage.get(prepared.source_key)
    return await runner.call_provider(
        job,
        "image",
        "drawing",
        progress,
        lambda: images.edit(
            source,
            "image/png",
            prepared.instruction,
            style=prepared.style,
            content_filter=prepared.content_filter,
        ),
    )


async def _persist(
    runner: GenerationRunner, prepared: _Prepared, image: ImageResult, progress: Progress
) -> Outcome:
    job, character_id = prepared.job, prepared.character_id
    await progress("saving", None)
    stored = await store_drawn(runner, job, character_id, image, variant=prepared.instruction)
    with job.timed("db_persist"):
        async with runner.db.transaction() as session:
            await lock_member(session, job.user_id)
            row = await locked_character(session, character_id)
            theme_row = await get_or_create_theme(session, character_id, prepared.theme)
            variant = ThemeVariant(
                theme_id=theme_row.id,
                character_id=character_id,
                prompt=prepared.instruction,
                image_url=stored.image_url,
                thumbnail_url=stored.thumbnail_url,
                meta={
                    IMAGE_KEY: stored.image_key,
                    THUMBNAIL_KEY: stored.thumbnail_key,
                    IMAGE_MODEL: image.model,
                    GENERATION_ID: job.generation_id,
                    SOURCE: FROM_DISCORD,
                },
            )
            session.add(variant)
            await session.flush()
            await session.refresh(variant)
            theme_row.updated_at = variant.created_at
            await finish(session, job, user_id=row.user_id, new_character=False)
    outcome = Outcome(job.generation_id, row, image.data, image.mime_type, prepared.quota)
    outcome.variant = variant
    outcome.theme = theme_row
    return outcome


async def create_variant(
    runner: GenerationRunner,
    images: ImageProvider,
    *,
    user_id: str,
    character_id: str,
    instruction: str,
    theme_name: str | None,
    progress: Progress,
) -> Outcome:
    """Edit the character's current image with an instruction; file it under a theme
    (created when missing; "Variations" when none is given).

    Raises:
        NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
        GenerationError, StorageError, InvalidInputError.
    """
    prepared = await _prepare(runner, user_id, character_id, instruction, theme_name)

    async def work() -> Outcome:
        image = await _draw(runner, images, prepared, progress)
        return await _persist(runner, prepared, image, progress)

    return await runner.run(prepared.job, progress, work)
