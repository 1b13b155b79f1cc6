"""Regenerate: prepare (the owner's finished character, charged, pending generation) → provider
(a new portrait from its prompt, plus an instruction; the likeness check against the previous
portrait) → persist (store it, swap it in, delete the old objects)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.errors import InvalidInputError, StorageError
from bot.providers.base import ImageProvider, ImageResult
from bot.services.characters import get_owned_character
from bot.services.generation.accept import Acceptance, accepting, begin
from bot.services.generation.inputs import regenerate_instruction
from bot.services.generation.likeness import LIKENESS_FIELDS, Checked, LikenessCheck, draw_alike
from bot.services.generation.model import Outcome, Progress, RegenerateRequest
from bot.services.generation.runner import GenerationRunner, Job
from bot.services.generation.steps import (
    effective_filter,
    finish,
    generating_user,
    lock_member,
    locked_character,
    mark_relaxed,
    portrait_outcome,
    shown_then_saved,
    store_drawn,
)
from bot.services.quota import QuotaStatus
from bot.storage.base import delete_quietly
from db.meta import (
    GENERATION_ID,
    IMAGE_KEY,
    IMAGE_MODEL,
    PORTRAIT_AT,
    THUMBNAIL_KEY,
    Meta,
)
from db.models import Character

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Prepared:
    job: Job
    character_id: str
    prompt: str
    style: str
    content_filter: str
    filter_lowered: bool
    old_keys: list[str]
    quota: QuotaStatus
    character: Character
    """The character as it was read (what a flow shows with the new portrait before it is
    saved)."""
    old_image_key: str | None = None


async def _prepare(
    runner: GenerationRunner,
    user_id: str,
    character_id: str,
    instruction: str | None,
    age_restricted: bool,
    acceptance: Acceptance,
) -> _Prepared:
    extra = regenerate_instruction(instruction)
    resumed = acceptance.resumed is not None
    if not resumed:
        runner.check_open()
    async with runner.db.transaction() as session:
        user = await generating_user(session, user_id)
        character = await get_owned_character(session, character_id, user.id)
        if not resumed and character.generation_status in ("pending", "processing"):
            raise InvalidInputError(
                "This character is already being drawn. Wait for it to finish.",
                "invalid.busy",
            )
        prompt = character.prompt if not extra else f"{character.prompt}. {extra}"
        generation, quota = await begin(
            session,
            user,
            acceptance,
            prompt=prompt,
            style=character.style_type,
            character_id=character.id,
        )
        character.generation_status = "pending"
        content_filter, lowered = effective_filter(user.content_filter_level, age_restricted)
        style = character.style_type or "realistic"
        meta = Meta(character.meta)
        old_keys = [k for k in (meta.image_key, meta.thumbnail_key) if k]
    job = Job(generation.id, "regenerate", user.id)
    return _Prepared(
        job,
        character_id,
        prompt,
        style,
        content_filter,
        lowered,
        old_keys,
        quota,
        character,
        meta.image_key,
    )


async def _draw(
    runner: GenerationRunner,
    images: ImageProvider,
    prepared: _Prepared,
    progress: Progress,
    check: LikenessCheck | None,
) -> Checked:
    previous: bytes | None = None
    if check is not None and check.active and prepared.old_image_key:
        try:
            with prepared.job.timed("storage_get"):
                previous = await runner.storage.get(prepared.old_image_key)
        except StorageError:  # no check then, the portrait all the same
            log.warning("the previous portrait of %s cannot be read", prepared.character_id)

    async def draw() -> ImageResult:
        await progress("drawing", None)
        return await runner.call_provider(
            prepared.job,
            "image",
            "drawing",
            progress,
            lambda: images.generate(
                prepared.prompt, style=prepared.style, content_filter=prepared.content_filter
            ),
        )

    return await draw_alike(runner, check, prepared.job, progress, previous, draw)


async def _persist(
    runner: GenerationRunner, prepared: _Prepared, drawn: Checked, progress: Progress
) -> Outcome:
    job, image = prepared.job, drawn.image
    await progress("saving", None)
    stored = await store_drawn(runner, job, prepared.character_id, image, variant=None)

    async def write() -> Character:
        async with runner.db.transaction() as session:
            await lock_member(session, job.user_id)
            row = await locked_character(session, prepared.character_id)
            row.image_url = row.s3_url = stored.image_url
            row.thumbnail_url = stored.thumbnail_url
            row.generation_status = "completed"
            kept = {k: v for k, v in (row.meta or {}).items() if k not in LIKENESS_FIELDS}
            row.meta = {
                **kept,
                **drawn.meta(),  # this portrait's likeness to the one it replaces
                IMAGE_MODEL: image.model,
                IMAGE_KEY: stored.image_key,
                THUMBNAIL_KEY: stored.thumbnail_key,
                GENERATION_ID: job.generation_id,
                PORTRAIT_AT: datetime.now(UTC).isoformat(),  # the newest image now
            }
            mark_relaxed(row, prepared.content_filter, portrait=True)
            await finish(session, job, user_id=row.user_id, new_character=False)
        return row

    with job.timed("db_persist"):
        row = await runner.write(progress, write)
    await delete_quietly(runner.storage, prepared.old_keys)
    return portrait_outcome(prepared, row, image)


async def regenerate(
    runner: GenerationRunner,
    images: ImageProvider,
    *,
    user_id: str,
    character_id: str,
    instruction: str | None,
    progress: Progress,
    age_restricted: bool = False,
    check: LikenessCheck | None = None,
    acceptance: Acceptance | None = None,
) -> Outcome:
    """Draw a new portrait of an existing character (its prompt, plus an instruction); with
    ``check``, compared with the previous portrait and drawn once more when unlike.

    Raises:
        NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
        GenerationError, StorageError, InvalidInputError.
    """
    request = RegenerateRequest(user_id, character_id, instruction, age_restricted)
    acceptance = acceptance or accepting(runner, "regenerate", request, progress)
    async with runner.accepting():
        prepared = await _prepare(
            runner, user_id, character_id, instruction, age_restricted, acceptance
        )

    async def work() -> Outcome:
        drawn = await _draw(runner, images, prepared, progress, check)
        return await shown_then_saved(
            runner,
            prepared.job,
            progress,
            lambda: portrait_outcome(prepared, prepared.character, drawn.image),
            lambda: _persist(runner, prepared, drawn, progress),
        )

    return await runner.run(prepared.job, progress, work)
