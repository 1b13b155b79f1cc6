"""The steps create, regenerate and variant share: who may generate, the row to persist into,
storing what the provider drew, and finishing the generation with the member's counters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import GenerationError, GenerationSavedError, InvalidInputError, NotFoundError
from bot.providers.base import ImageResult
from bot.services.accounts import ensure_can_generate
from bot.services.generation.model import Outcome, Progress, ShowsDrawn
from bot.services.generation.records import complete_generation, generation_status
from bot.services.generation.runner import GenerationRunner, Job
from bot.services.quota import QuotaStatus
from bot.storage.images import extension_for, image_key, variant_key
from bot.storage.portraits import StoredPortrait, put_tracked, store_portrait
from db.meta import CONTENT_FILTER, PORTRAIT_FILTER, RELAXED
from db.models import Character, User

DEFAULT_FILTER = "moderate"


def effective_filter(chosen: str | None, age_restricted: bool) -> tuple[str, bool]:
    """The content filter a generation uses, and whether the member's choice was lowered:
    ``relaxed`` applies only where the channel is age-restricted (or a DM with the bot);
    elsewhere ``moderate``, whatever the member chose."""
    level = chosen or DEFAULT_FILTER
    if level == RELAXED and not age_restricted:
        return DEFAULT_FILTER, True
    return level, False


def mark_relaxed(row: Character, content_filter: str, *, portrait: bool = False) -> None:
    """Record on the character that one of its images was made under ``relaxed``; such a
    character leaves (and stays out of) the public gallery. ``portrait``: the image is its new
    portrait, whose own filter is recorded too (a portrait drawn under another filter clears
    it)."""
    meta = dict(row.meta or {})
    if portrait:
        meta.pop(PORTRAIT_FILTER, None)
    if content_filter == RELAXED:
        meta[CONTENT_FILTER] = RELAXED
        if portrait:
            meta[PORTRAIT_FILTER] = RELAXED
        row.is_public = False
    row.meta = meta


async def generating_user(session: AsyncSession, user_id: str) -> User:
    """The member, who must be allowed to generate.

    Raises: NotFoundError, AccountRestrictedError.
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    ensure_can_generate(user)
    return user


_LOCK_MEMBER = text("SELECT 1 FROM users WHERE id = :id FOR UPDATE")


async def lock_member(session: AsyncSession, user_id: str) -> None:
    """Lock the member's row. Every generating transaction takes it before the character's:
    the one that charges the quota updates the member and then writes rows pointing at the
    character, so a persist holding the character while it waited for the member deadlocked
    with it (a second Regenerate press, a variant asked for while the portrait is redrawn).
    The lock only: the row is not loaded."""
    await session.execute(_LOCK_MEMBER, {"id": user_id})


async def locked_character(session: AsyncSession, character_id: str) -> Character:
    """The character row, locked for the persist transaction. Raises: NotFoundError."""
    row = (
        await session.execute(
            select(Character).where(Character.id == character_id).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError("character")
    return row


# counted in place, the member's row not loaded (updated_at as the ORM's flush set it)
_COUNT = text(
    "UPDATE users SET total_images_generated = total_images_generated + 1,"
    " total_characters_created = total_characters_created + :created, updated_at = now()"
    " WHERE id = :id"
)


async def finish(session: AsyncSession, job: Job, *, user_id: str, new_character: bool) -> None:
    """Mark the generation completed and count it (and the new character) for the member.

    Raises: RuntimeError when the generation was failed while it ran; GenerationSavedError
        when an earlier try of this write was committed though its answer was lost (the
        database went away at that moment): the result is saved already.
    """
    if not await complete_generation(session, job.generation_id):
        if await generation_status(session, job.generation_id) == "completed":
            raise GenerationSavedError
        msg = "the generation was failed while it ran (stale sweep or shutdown)"
        raise RuntimeError(msg)
    await session.execute(_COUNT, {"id": user_id, "created": int(new_character)})


async def store_drawn(
    runner: GenerationRunner,
    job: Job,
    character_id: str,
    image: ImageResult,
    *,
    variant: str | None,
) -> StoredPortrait:
    """Store the provider's image (a portrait, or a variant named after ``variant``) and its
    thumbnail, tracked for the failure path. From here on the job can no longer be cancelled.

    Raises: GenerationCancelled when the member cancelled it; GenerationError
        (``invalid_response``) when the image cannot be decoded; StorageError.
    """
    runner.begin_saving(job)  # a cancel that came in time stops here; later ones are refused
    ext = extension_for(image.mime_type)
    key = (
        variant_key(character_id, variant, ext)
        if variant is not None
        else image_key(character_id, ext)
    )
    try:
        return await store_portrait(
            runner.storage,
            key,
            image.data,
            image.mime_type,
            stored=job.stored_keys,
            timer=job.timed,
        )
    except InvalidInputError as exc:  # the provider's image, not the member's file
        raise GenerationError(
            "invalid_response", detail=f"the image cannot be decoded ({exc.reason_key})"
        ) from exc


async def store_reference(
    runner: GenerationRunner, job: Job, character_id: str, data: bytes, mime: str | None
) -> tuple[str, str]:
    """Store the member's reference image as given; its key and URL. Raises: StorageError."""
    key = image_key(character_id, extension_for(mime or ""))
    url = await put_tracked(
        runner.storage, key, data, mime or "image/png", stored=job.stored_keys, timer=job.timed
    )
    return key, url


class PortraitPrepared(Protocol):
    """What a new portrait's use case prepared that its posted outcome carries."""

    @property
    def job(self) -> Job: ...
    @property
    def quota(self) -> QuotaStatus: ...
    @property
    def content_filter(self) -> str: ...
    @property
    def filter_lowered(self) -> bool: ...


def portrait_outcome(
    prepared: PortraitPrepared, character: Character, image: ImageResult
) -> Outcome:
    """What the flow posts of a character's new portrait (as saved, or shown before)."""
    outcome = Outcome(
        prepared.job.generation_id, character, image.data, image.mime_type, prepared.quota
    )
    outcome.filter_lowered = prepared.filter_lowered
    outcome.relaxed = prepared.content_filter == RELAXED
    return outcome


async def shown_then_saved(
    runner: GenerationRunner,
    job: Job,
    progress: Progress,
    shown: Callable[[], Outcome],
    save: Callable[[], Awaitable[Outcome]],
) -> Outcome:
    """From here the job saves what it made (a cancel is refused). A flow that shows the
    result as soon as it is drawn (:class:`ShowsDrawn`) is given ``shown()`` now, and its save
    then waits for one of the runner's places for shown results (``saving_shown``); any other
    flow saves at once, its result posted after.

    Raises: GenerationCancelled when the member cancelled it before.
    """
    runner.begin_saving(job)
    if not isinstance(progress, ShowsDrawn):
        return await save()
    await progress.drawn(shown())
    async with runner.saving_shown():
        return await save()
