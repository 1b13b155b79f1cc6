"""Variant: prepare (the owner's finished character, charged, pending generation) → its turn
(one edit at a time per conversation and member) → source (the image replied to, else the
newest) and the earlier turns of its branch → provider (the source edited with the instruction,
the turns as history, the character sheet as an extra reference; the likeness check against
the portrait) → persist (store it, file it under a theme, created when missing)."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInputError, StorageError
from bot.providers.base import EditTurn, ImageProvider, ImageResult
from bot.services.characters import get_owned_character
from bot.services.conversation.sources import (
    ImageSource,
    branch,
    last_theme,
    newest_image,
    portrait_of,
    source_variant,
)
from bot.services.generation.accept import Acceptance, accepting, begin
from bot.services.generation.inputs import MAX_THEME_NAME, clean, variant_inputs
from bot.services.generation.likeness import Checked, LikenessCheck, draw_alike
from bot.services.generation.model import Outcome, Progress, VariantRequest
from bot.services.generation.runner import GenerationRunner, Job
from bot.services.generation.sheet import sheet_image_key
from bot.services.generation.steps import (
    effective_filter,
    finish,
    generating_user,
    lock_member,
    locked_character,
    mark_relaxed,
    store_drawn,
)
from bot.services.quota import QuotaStatus
from bot.services.themes import DEFAULT_THEME, get_or_create_theme
from db.meta import (
    CHARACTER_SHEET,
    CONTENT_FILTER,
    CONVERSATION_ID,
    FROM_DISCORD,
    GENERATION_ID,
    IMAGE_KEY,
    IMAGE_MODEL,
    INSTRUCTION_MESSAGE_ID,
    PARENT_VARIANT_ID,
    RELAXED,
    SOURCE,
    SOURCE_IMAGE_KEY,
    SUGGESTED_BY,
    THUMBNAIL_KEY,
    Meta,
)
from db.models import Character, CharacterTheme, ThemeVariant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Prepared:
    job: Job
    request: VariantRequest
    instruction: str
    theme: str | None
    style: str
    content_filter: str
    filter_lowered: bool
    quota: QuotaStatus


@dataclass(frozen=True)
class _Start:
    """Resolved when the turn comes: the source, its branch, and the theme."""

    source: ImageSource
    turns: list[ImageSource]
    theme: str
    source_relaxed: bool = False
    """The source was made under relaxed: what is made from it counts as relaxed too."""
    portrait_key: str | None = None
    """The portrait, which the likeness check compares the new image with."""
    sheet_key: str | None = None
    """The character sheet, sent as an extra reference (not when drawing a sheet)."""


def _has_image(character: Character) -> None:
    if character.generation_status != "completed" or not Meta(character.meta).image_key:
        raise InvalidInputError(
            "This character has no finished image to edit yet.", "invalid.no_image"
        )


async def _prepare(
    runner: GenerationRunner, request: VariantRequest, acceptance: Acceptance
) -> _Prepared:
    theme: str | None
    if request.conversation_id is None or not request.conversation_theme:
        text, theme = variant_inputs(request.instruction, request.theme_name)
    else:  # no theme named: the conversation's, found when the turn comes
        text, _ = variant_inputs(request.instruction, None)
        theme = clean(request.theme_name, MAX_THEME_NAME, "theme name")
    if acceptance.resumed is None:
        runner.check_open()
    async with runner.db.transaction() as session:
        user = await generating_user(session, request.user_id)
        character = await get_owned_character(session, request.character_id, user.id)
        _has_image(character)
        generation, quota = await begin(
            session,
            user,
            acceptance,
            prompt=text,
            style=character.style_type,
            character_id=character.id,
        )
        content_filter, lowered = effective_filter(
            user.content_filter_level, request.age_restricted
        )
        style = character.style_type or "realistic"
    job = Job(generation.id, "variant", user.id)
    return _Prepared(job, request, text, theme, style, content_filter, lowered, quota)


async def _start(runner: GenerationRunner, prepared: _Prepared) -> _Start:
    """The source (the variant or portrait asked for, else the newest image), the turns of
    its branch, and the theme. Raises: NotFoundError, InvalidInputError."""
    request = prepared.request
    async with runner.db.read() as session:
        character = await get_owned_character(session, request.character_id, request.user_id)
        _has_image(character)
        source: ImageSource | None
        if request.source_variant_id:
            source = await source_variant(session, character.id, request.source_variant_id)
        elif request.from_portrait:
            source = portrait_of(character)
        else:
            source = await newest_image(session, character)
        if source is None:
            raise InvalidInputError(
                "This character has no finished image to edit yet.", "invalid.no_image"
            )
        source_relaxed = await _is_relaxed(session, character, source)
        if source_relaxed and not request.age_restricted:
            raise InvalidInputError(
                "That image was made under the relaxed filter: edit it in an age-restricted "
                "channel or a DM with the bot.",
                "invalid.relaxed_source",
            )
        turns = await branch(session, source)
        theme = prepared.theme
        if theme is None and request.conversation_id is not None:
            theme = await last_theme(session, character.id, request.conversation_id)
        sheet_key = None
        if not request.character_sheet:
            sheet_key = await sheet_image_key(session, character.id)
    return _Start(
        source,
        turns,
        theme or DEFAULT_THEME,
        source_relaxed,
        portrait_key=Meta(character.meta).image_key,
        sheet_key=sheet_key if sheet_key != source.image_key else None,
    )


async def _optional(runner: GenerationRunner, key: str | None, what: str) -> bytes | None:
    """An image the edit can do without (the sheet, the portrait to compare with): None
    when there is none or it cannot be read (logged)."""
    if not key:
        return None
    try:
        return await runner.storage.get(key)
    except StorageError:
        log.warning("the %s %s cannot be read; the edit goes on without it", what, key)
        return None


async def _is_relaxed(session: AsyncSession, character: Character, source: ImageSource) -> bool:
    """Whether the source image was made under the relaxed filter (a variant's own mark, or
    the portrait's)."""
    if source.variant_id is None:
        return Meta(character.meta).relaxed_portrait
    row = await session.get(ThemeVariant, source.variant_id)
    return row is not None and Meta(row.meta).relaxed


async def _draw(
    runner: GenerationRunner,
    images: ImageProvider,
    prepared: _Prepared,
    start: _Start,
    progress: Progress,
    check: LikenessCheck | None,
) -> Checked:
    job = prepared.job
    await progress("drawing", None)
    check = None if prepared.request.character_sheet else check
    portrait: bytes | None = None
    with job.timed("storage_get"):
        source = await runner.storage.get(start.source.image_key)
        history: list[EditTurn] = []
        for turn in start.turns:
            data = source if turn.image_key == start.source.image_key else None
            if data is None:
                data = await runner.storage.get(turn.image_key)
            history.append(EditTurn(turn.instruction or "", data))
        sheet = await _optional(runner, start.sheet_key, "character sheet")
        references = [sheet] if sheet is not None else []
        if check is not None and check.active and start.portrait_key:
            same = start.portrait_key == start.source.image_key
            portrait = source if same else await _optional(runner, start.portrait_key, "portrait")

    async def draw() -> ImageResult:
        await progress("drawing", None)
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
                history=history,
                references=references,
            ),
        )

    return await draw_alike(runner, check, job, progress, portrait, draw)


def _variant_meta(
    prepared: _Prepared, start: _Start, drawn: Checked, image_key: str, thumbnail_key: str
) -> dict[str, Any]:
    request = prepared.request
    meta: dict[str, Any] = {
        IMAGE_KEY: image_key,
        THUMBNAIL_KEY: thumbnail_key,
        IMAGE_MODEL: drawn.image.model,
        GENERATION_ID: prepared.job.generation_id,
        SOURCE: FROM_DISCORD,
        **drawn.meta(),
    }
    if request.character_sheet:
        meta[CHARACTER_SHEET] = True
    if start.source.variant_id:
        meta[PARENT_VARIANT_ID] = start.source.variant_id
    else:
        meta[SOURCE_IMAGE_KEY] = start.source.image_key
    extras = {
        CONVERSATION_ID: request.conversation_id,
        INSTRUCTION_MESSAGE_ID: request.instruction_message_id,
        SUGGESTED_BY: request.suggested_by,
    }
    meta.update({k: v for k, v in extras.items() if v})
    if _relaxed(prepared, start):
        meta[CONTENT_FILTER] = RELAXED
    return meta


def _relaxed(prepared: _Prepared, start: _Start) -> bool:
    """Whether the new image counts as made under relaxed (its own filter, or its source's)."""
    return prepared.content_filter == RELAXED or start.source_relaxed


async def _persist(
    runner: GenerationRunner,
    prepared: _Prepared,
    start: _Start,
    drawn: Checked,
    progress: Progress,
) -> Outcome:
    job, character_id = prepared.job, prepared.request.character_id
    image = drawn.image
    await progress("saving", None)
    stored = await store_drawn(runner, job, character_id, image, variant=prepared.instruction)

    async def write() -> tuple[Character, CharacterTheme, ThemeVariant]:
        async with runner.db.transaction() as session:
            await lock_member(session, job.user_id)
            row = await locked_character(session, character_id)
            theme_row = await get_or_create_theme(session, character_id, start.theme)
            variant = ThemeVariant(
                theme_id=theme_row.id,
                character_id=character_id,
                prompt=prepared.instruction,
                image_url=stored.image_url,
                thumbnail_url=stored.thumbnail_url,
                meta=_variant_meta(prepared, start, drawn, stored.image_key, stored.thumbnail_key),
            )
            if _relaxed(prepared, start):
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
    outcome.relaxed = _relaxed(prepared, start)
    return outcome


async def create_variant(
    runner: GenerationRunner,
    images: ImageProvider,
    request: VariantRequest,
    progress: Progress,
    *,
    turn: AbstractAsyncContextManager[None] | None = None,
    check: LikenessCheck | None = None,
    acceptance: Acceptance | None = None,
) -> Outcome:
    """Edit one of the character's images (the one asked for, else the newest) with an
    instruction, the earlier turns of its branch as history; file it under a theme (created
    when missing). ``turn`` is waited for after the charge: one edit at a time. With
    ``check``, the new image is compared with the portrait and drawn once more when unlike.

    Raises:
        NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
        GenerationError, GenerationCancelled, StorageError, InvalidInputError.
    """
    acceptance = acceptance or accepting(runner, "variant", request, progress)
    async with runner.accepting():
        prepared = await _prepare(runner, request, acceptance)

    async def work() -> Outcome:
        start = await _start(runner, prepared)
        drawn = await _draw(runner, images, prepared, start, progress, check)
        return await _persist(runner, prepared, start, drawn, progress)

    return await runner.run(prepared.job, progress, work, turn=turn)
