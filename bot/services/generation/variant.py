"""Variant: prepare (the owner's finished character, charged, pending generation) → provider
(its current image edited with an instruction) → persist (store it, file it under a theme,
created when missing)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import InvalidInputError, NotFoundError
from bot.providers.base import ImageProvider, ImageResult
from bot.services.characters import get_owned_character
from bot.services.generation.inputs import variant_inputs
from bot.services.generation.model import Outcome, Progress
from bot.services.generation.records import start_generation
from bot.services.generation.runner import GenerationRunner, Job
from bot.services.generation.steps import (
    effective_filter,
    finish,
    generating_user,
    locked_character,
    mark_relaxed,
    store_drawn,
)
from bot.services.quota import QuotaStatus, charge
from bot.services.themes import get_or_create_theme
from db.meta import (
    CONTENT_FILTER,
    FROM_DISCORD,
    GENERATION_ID,
    IMAGE_KEY,
    IMAGE_MODEL,
    PARENT_VARIANT_ID,
    RELAXED,
    SOURCE,
    THUMBNAIL_KEY,
    Meta,
)
from db.models import Character, CharacterTheme, ThemeVariant


@dataclass(frozen=True)
class VariantSource:
    """Which image a variant edits (``variant_id`` None: the portrait), and whether the
    channel allows the relaxed filter (age-restricted, or a DM with the bot)."""

    variant_id: str | None = None
    age_restricted: bool = False


@dataclass(frozen=True)
class _Prepared:
    job: Job
    character_id: str
    instruction: str
    theme: str
    source_key: str
    source_variant_id: str | None
    style: str
    content_filter: str
    filter_lowered: bool
    quota: QuotaStatus
    source_relaxed: bool = False
    """The edited image was made under relaxed: what is made from it counts as relaxed too."""

    @property
    def relaxed(self) -> bool:
        """Whether the new image is recorded as made under the relaxed filter."""
        return self.content_filter == RELAXED or self.source_relaxed


async def _prepare(
    runner: GenerationRunner,
    user_id: str,
    character_id: str,
    instruction: str,
    theme_name: str | None,
    source: VariantSource,
) -> _Prepared:
    text, theme = variant_inputs(instruction, theme_name)
    runner.check_open()
    async with runner.db.transaction() as session:
        user = await generating_user(session, user_id)
        character = await get_owned_character(session, character_id, user.id)
        source_meta = Meta(character.meta)
        source_relaxed = source_meta.relaxed_portrait
        if source.variant_id is not None:
            parent = await session.get(ThemeVariant, source.variant_id)
            if parent is None or parent.character_id != character.id:
                raise NotFoundError("variant")
            source_meta = Meta(parent.meta)
            source_relaxed = source_meta.relaxed
        source_key = source_meta.image_key
        if character.generation_status != "completed" or not source_key:
            raise InvalidInputError(
                "This character has no finished image to edit yet.", "invalid.no_image"
            )
        if source_relaxed and not source.age_restricted:
            raise InvalidInputError(
                "That image was made under the relaxed filter: edit it in an age-restricted "
                "channel or a DM with the bot.",
                "invalid.relaxed_source",
            )
        content_filter, lowered = effective_filter(user.content_filter_level, source.age_restricted)
        quota = await charge(session, user.id)
        generation = await start_generation(
            session,
            user_id=user.id,
            prompt=text,
            style=character.style_type,
            character_id=character.id,
        )
        style = character.style_type or "realistic"
    job = Job(generation.id, "variant", user.id)
    return _Prepared(
        job,
        character_id,
        text,
        theme,
        source_key,
        source.variant_id,
        style,
        content_filter,
        lowered,
        quota,
        source_relaxed=source_relaxed,
    )


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

    async def write() -> tuple[Character, CharacterTheme, ThemeVariant]:
        async with runner.db.transaction() as session:
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
            if prepared.source_variant_id is not None:
                variant.meta = {
                    **(variant.meta or {}),
                    PARENT_VARIANT_ID: prepared.source_variant_id,
                }
            if prepared.relaxed:
                variant.meta = {**(variant.meta or {}), CONTENT_FILTER: RELAXED}
                mark_relaxed(row, RELAXED)
            session.add(variant)
            await session.flush()
            await session.refresh(variant)
            theme_row.updated_at = variant.created_at
            await finish(session, job, user_id=row.user_id, new_character=False)
        return row, theme_row, variant

    with job.timed("db_persist"):
        row, theme_row, variant = await runner.write(progress, write)
    outcome = Outcome(job.generation_id, row, image.data, image.mime_type, prepared.quota)
    outcome.variant = variant
    outcome.theme = theme_row
    outcome.filter_lowered = prepared.filter_lowered
    outcome.relaxed = prepared.relaxed
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
    source: VariantSource | None = None,
) -> Outcome:
    """Edit the character's current image with an instruction; file it under a theme
    (created when missing; "Variations" when none is given).

    Raises:
        NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
        GenerationError, StorageError, InvalidInputError.
    """
    prepared = await _prepare(
        runner, user_id, character_id, instruction, theme_name, source or VariantSource()
    )

    async def work() -> Outcome:
        image = await _draw(runner, images, prepared, progress)
        return await _persist(runner, prepared, image, progress)

    return await runner.run(prepared.job, progress, work)
