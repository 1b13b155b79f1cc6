"""The generation pipeline shared by create, regenerate and variant.

Short transaction (charge the quota, insert the generation pending) → provider calls with no
transaction open → image and thumbnail stored → short transaction (persist, completed). Any
failure, cancellation included, fails the generation (which refunds its unit once), deletes the
objects already stored and any half-made character, then re-raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import DomainError, GenerationError, InvalidInputError, NotFoundError
from bot.providers.base import ImageProvider, ImageResult, PromptOptimizer
from bot.services.accounts import ensure_can_generate
from bot.services.generation.records import (
    complete_generation,
    delete_unfinished_characters,
    fail_generation,
    mark_processing,
    start_generation,
)
from bot.services.generation.slots import GenerationSlots
from bot.services.quota import QuotaStatus, charge
from bot.services.themes import DEFAULT_THEME
from bot.storage.base import Storage, delete_quietly
from bot.storage.images import extension_for, image_key, make_thumbnail, thumbnail_key, variant_key
from db.engine import Database
from db.models import STYLES, Character, CharacterTheme, ThemeVariant, User

if TYPE_CHECKING:
    from bot.ops.metrics import BotMetrics
    from bot.services.ratelimit import SharedRateLimit

log = logging.getLogger(__name__)
T = TypeVar("T")

Progress = Callable[[str, int | None], Awaitable[None]]
"""Called with a stage (queued, prompt, drawing, saving) and, when queued, the position."""

MAX_DESCRIPTION = 2000
MAX_INSTRUCTION = 500
MAX_NAME = 100


async def _no_progress(stage: str, position: int | None) -> None:
    return None


@dataclass(frozen=True)
class CreateRequest:
    """What a member asked for with /character create."""

    user_id: str
    description: str
    style: str = "realistic"
    name: str | None = None
    gender: str | None = None
    age: str | None = None
    reference: bytes | None = None
    reference_mime: str | None = None


@dataclass
class Outcome:
    """What the Discord side needs to post the result."""

    generation_id: str
    character: Character
    image: bytes
    mime_type: str
    quota: QuotaStatus | None
    variant: ThemeVariant | None = None
    theme: CharacterTheme | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Job:
    """Book-keeping of one run, for the failure path."""

    generation_id: str
    kind: str = "create"
    user_id: str = ""
    stored_keys: list[str] = field(default_factory=list)
    placeholder_character_id: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def timed(self, name: str) -> Any:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def _clean(text: str | None, limit: int, what: str) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(text.split())
    if len(cleaned) > limit:
        raise InvalidInputError(
            f"The {what} is too long ({len(cleaned)} characters; at most {limit}).",
            "invalid.too_long",
            what=what,
            length=len(cleaned),
            limit=limit,
        )
    return cleaned or None


class GenerationPipeline:
    """Runs generations with a per-process concurrency limit; tracks them for a clean shutdown."""

    def __init__(
        self,
        db: Database,
        storage: Storage,
        optimizer: PromptOptimizer,
        images: ImageProvider,
        *,
        slots: GenerationSlots,
        text_model: str,
        image_model: str,
        rate_limit: SharedRateLimit | None = None,
        metrics: BotMetrics | None = None,
    ) -> None:
        self.db = db
        self.rate_limit = rate_limit
        self.metrics = metrics
        self.storage = storage
        self.optimizer = optimizer
        self.images = images
        self.slots = slots
        self.text_model = text_model
        self.image_model = image_model
        self._running: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- public use cases -------------------------------------------------------------------

    async def create_character(
        self, request: CreateRequest, progress: Progress = _no_progress
    ) -> Outcome:
        """Create a character: attributes + prompt, portrait, thumbnail, rows.

        Raises:
            InvalidInputError, QuotaExceededError, AccountRestrictedError, GenerationError,
            StorageError; anything else after the generation failed and was refunded.
        """
        description = _clean(request.description, MAX_DESCRIPTION, "description")
        if not description:
            raise InvalidInputError("Describe the character.", "invalid.description_empty")
        name = _clean(request.name, MAX_NAME, "name")
        gender = _clean(request.gender, 50, "gender")
        age = _clean(request.age, 50, "age")
        style = request.style or "realistic"
        if style not in STYLES:
            raise InvalidInputError(
                f"{style!r} is not an art style; choose one of {', '.join(STYLES)}.",
                "invalid.choice",
                value=style,
                what="style",
                choices=", ".join(STYLES),
            )
        self._check_open()
        async with self.db.transaction() as session:
            user = await self._generating_user(session, request.user_id)
            quota = await charge(session, user.id)
            character = Character(
                user_id=user.id,
                name=name,
                description=description,
                prompt=description,
                style_type=style,
                gender=gender,
                age=age,
                generation_status="pending",
                meta={"source": "discord", "artStyle": style, "gender": gender},
            )
            session.add(character)
            await session.flush()
            generation = await start_generation(
                session,
                user_id=user.id,
                prompt=description,
                style=style,
                character_id=character.id,
            )
            content_filter = user.content_filter_level or "moderate"
        job = _Job(generation.id, "create", user.id, placeholder_character_id=character.id)

        async def work() -> Outcome:
            await progress("prompt", None)
            optimized = await self._provider(
                job,
                "text",
                "prompt",
                progress,
                lambda: self.optimizer.optimize(
                    description,
                    style=style,
                    name=name,
                    gender=gender,
                    age=age,
                    content_filter=content_filter,
                ),
            )
            await progress("drawing", None)
            image = await self._provider(
                job,
                "image",
                "drawing",
                progress,
                lambda: self.images.generate(
                    optimized.prompt,
                    style=style,
                    content_filter=content_filter,
                    reference=request.reference,
                    reference_mime=request.reference_mime,
                ),
            )
            await progress("saving", None)
            urls = await self._store(job, character.id, image, variant=None)
            reference_url = ref_key = None
            if request.reference is not None:
                ref_key = image_key(character.id, extension_for(request.reference_mime or ""))
                reference_url = await self._put(
                    job, ref_key, request.reference, request.reference_mime or "image/png"
                )
            attrs = optimized.attributes
            with job.timed("db_persist"):
                async with self.db.transaction() as session:
                    row = await self._locked_character(session, character.id)
                    row.name = name or attrs.name
                    row.prompt = optimized.prompt
                    row.age = age or attrs.age
                    row.gender = gender or attrs.gender
                    row.occupation = attrs.occupation
                    row.personality = list(attrs.personality)
                    row.physical_traits = dict(attrs.physical_traits)
                    row.clothing = attrs.clothing
                    row.background = attrs.background
                    row.tags = list(dict.fromkeys([style, *attrs.tags]))[:20]
                    row.image_url = row.s3_url = urls["image_url"]
                    row.thumbnail_url = urls["thumbnail_url"]
                    row.reference_image_url = reference_url
                    row.generation_status = "completed"
                    row.meta = {
                        **(row.meta or {}),
                        "gender": row.gender,
                        "artStyle": style,
                        "textModel": optimized.model,
                        "imageModel": image.model,
                        "imageKey": urls["image_key"],
                        "thumbnailKey": urls["thumbnail_key"],
                        "generationId": job.generation_id,
                    }
                    if ref_key:
                        row.meta["referenceKey"] = ref_key
                    await self._finish(session, job, user_id=row.user_id, new_character=True)
            return Outcome(job.generation_id, row, image.data, image.mime_type, quota)

        return await self._run(job, progress, work)

    async def regenerate(
        self,
        *,
        user_id: str,
        character_id: str,
        instruction: str | None = None,
        progress: Progress = _no_progress,
    ) -> Outcome:
        """Draw a new portrait of an existing character (its prompt, plus an instruction).

        Raises:
            NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
            GenerationError, StorageError, InvalidInputError.
        """
        from bot.services.characters import get_owned_character

        extra = _clean(instruction, MAX_INSTRUCTION, "instruction")
        self._check_open()
        async with self.db.transaction() as session:
            user = await self._generating_user(session, user_id)
            character = await get_owned_character(session, character_id, user.id)
            if character.generation_status in ("pending", "processing"):
                raise InvalidInputError(
                    "This character is already being drawn. Wait for it to finish.",
                    "invalid.busy",
                )
            quota = await charge(session, user.id)
            prompt = character.prompt if not extra else f"{character.prompt}. {extra}"
            generation = await start_generation(
                session,
                user_id=user.id,
                prompt=prompt,
                style=character.style_type,
                character_id=character.id,
            )
            character.generation_status = "pending"
            content_filter = user.content_filter_level or "moderate"
            style = character.style_type or "realistic"
            old_keys = [
                k
                for k in ((character.meta or {}).get(n) for n in ("imageKey", "thumbnailKey"))
                if k
            ]
        job = _Job(generation.id, "regenerate", user.id)

        async def work() -> Outcome:
            await progress("drawing", None)
            image = await self._provider(
                job,
                "image",
                "drawing",
                progress,
                lambda: self.images.generate(prompt, style=style, content_filter=content_filter),
            )
            await progress("saving", None)
            urls = await self._store(job, character_id, image, variant=None)
            with job.timed("db_persist"):
                async with self.db.transaction() as session:
                    row = await self._locked_character(session, character_id)
                    row.image_url = row.s3_url = urls["image_url"]
                    row.thumbnail_url = urls["thumbnail_url"]
                    row.generation_status = "completed"
                    row.meta = {
                        **(row.meta or {}),
                        "imageModel": image.model,
                        "imageKey": urls["image_key"],
                        "thumbnailKey": urls["thumbnail_key"],
                        "generationId": job.generation_id,
                    }
                    await self._finish(session, job, user_id=row.user_id, new_character=False)
            await delete_quietly(self.storage, old_keys)
            return Outcome(job.generation_id, row, image.data, image.mime_type, quota)

        return await self._run(job, progress, work)

    async def create_variant(
        self,
        *,
        user_id: str,
        character_id: str,
        instruction: str,
        theme_name: str | None = None,
        progress: Progress = _no_progress,
    ) -> Outcome:
        """Edit the character's current image with an instruction; file it under a theme
        (created when missing; "Variations" when none is given).

        Raises:
            NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
            GenerationError, StorageError, InvalidInputError.
        """
        from bot.services.characters import get_owned_character

        text = _clean(instruction, MAX_INSTRUCTION, "instruction")
        if not text:
            raise InvalidInputError("Say how to change the image.", "invalid.instruction_empty")
        theme = _clean(theme_name, 50, "theme name") or DEFAULT_THEME
        self._check_open()
        async with self.db.transaction() as session:
            user = await self._generating_user(session, user_id)
            character = await get_owned_character(session, character_id, user.id)
            source_key = (character.meta or {}).get("imageKey")
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
            content_filter = user.content_filter_level or "moderate"
            style = character.style_type or "realistic"
        job = _Job(generation.id, "variant", user.id)

        async def work() -> Outcome:
            await progress("drawing", None)
            with job.timed("storage_get"):
                source = await self.storage.get(str(source_key))
            image = await self._provider(
                job,
                "image",
                "drawing",
                progress,
                lambda: self.images.edit(
                    source, "image/png", text, style=style, content_filter=content_filter
                ),
            )
            await progress("saving", None)
            urls = await self._store(job, character_id, image, variant=text)
            with job.timed("db_persist"):
                async with self.db.transaction() as session:
                    from bot.services.themes import get_or_create_theme

                    row = await self._locked_character(session, character_id)
                    theme_row = await get_or_create_theme(session, character_id, theme)
                    variant = ThemeVariant(
                        theme_id=theme_row.id,
                        character_id=character_id,
                        prompt=text,
                        image_url=urls["image_url"],
                        thumbnail_url=urls["thumbnail_url"],
                        meta={
                            "imageKey": urls["image_key"],
                            "thumbnailKey": urls["thumbnail_key"],
                            "imageModel": image.model,
                            "generationId": job.generation_id,
                            "source": "discord",
                        },
                    )
                    session.add(variant)
                    await session.flush()
                    await session.refresh(variant)
                    theme_row.updated_at = variant.created_at
                    await self._finish(session, job, user_id=row.user_id, new_character=False)
            outcome = Outcome(job.generation_id, row, image.data, image.mime_type, quota)
            outcome.variant = variant
            outcome.theme = theme_row
            return outcome

        return await self._run(job, progress, work)

    # -- shutdown -------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Generations running in this process."""
        return len(self._running)

    async def drain(self, grace: float) -> None:
        """Stop taking new generations, let running ones finish for ``grace`` seconds, then
        cancel the rest (their failure path refunds them)."""
        self._closing = True
        pending = set(self._running)
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=grace)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=10)

    # -- internals --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closing:
            raise DomainError("error.shutting_down")

    async def _generating_user(self, session: AsyncSession, user_id: str) -> User:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFoundError("user")
        ensure_can_generate(user)
        return user

    async def _locked_character(self, session: Any, character_id: str) -> Character:
        row = (
            await session.execute(
                select(Character).where(Character.id == character_id).with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFoundError("character")
        return row  # type: ignore[no-any-return]

    async def _finish(self, session: Any, job: _Job, *, user_id: str, new_character: bool) -> None:
        if not await complete_generation(session, job.generation_id):
            msg = "the generation was failed while it ran (stale sweep or shutdown)"
            raise RuntimeError(msg)
        user = await session.get(User, user_id, with_for_update=True)
        if user is not None:
            user.total_images_generated += 1
            if new_character:
                user.total_characters_created += 1

    async def _put(self, job: _Job, key: str, data: bytes, content_type: str) -> str:
        job.stored_keys.append(key)
        with job.timed("storage_put"):
            return await self.storage.put(key, data, content_type)

    async def _store(
        self, job: _Job, character_id: str, image: ImageResult, *, variant: str | None
    ) -> dict[str, str]:
        ext = extension_for(image.mime_type)
        key = (
            variant_key(character_id, variant, ext)
            if variant is not None
            else image_key(character_id, ext)
        )
        thumb_key = thumbnail_key(key)
        # the portrait uploads while its thumbnail is drawn (in a thread)
        image_put = asyncio.ensure_future(self._put(job, key, image.data, image.mime_type))
        try:
            with job.timed("thumbnail"):
                try:
                    thumb = await make_thumbnail(image.data)
                except InvalidInputError as exc:  # the provider's image, not the member's file
                    raise GenerationError(
                        "invalid_response", detail=f"the image cannot be decoded ({exc.reason_key})"
                    ) from exc
            thumb_url = await self._put(job, thumb_key, thumb, "image/webp")
            image_url = await image_put
        except BaseException:
            image_put.cancel()
            with contextlib.suppress(BaseException):
                await image_put
            raise
        return {
            "image_key": key,
            "thumbnail_key": thumb_key,
            "image_url": image_url,
            "thumbnail_url": thumb_url,
        }

    async def _provider(
        self,
        job: _Job,
        provider: str,
        stage: str,
        progress: Progress,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        """One provider call: wait for the shared budget (the member sees the queue position,
        then the stage again), then call, timed and counted."""
        if self.rate_limit is not None:
            queued = False

            async def on_position(position: int) -> None:
                nonlocal queued
                queued = True
                await progress("queued", position)

            with job.timed("rate_limit_wait"):
                waited = await self.rate_limit.acquire(on_position)
            if self.metrics is not None:
                self.metrics.rate_limited(waited)
            if queued:
                await progress(stage, None)
        start = time.perf_counter()
        ok = False
        try:
            result = await call()
            ok = True
            return result
        finally:
            elapsed = time.perf_counter() - start
            name = f"provider_{provider}"
            job.timings[name] = job.timings.get(name, 0.0) + elapsed
            if self.metrics is not None:
                self.metrics.provider_call(provider, elapsed, ok=ok)

    async def _run(
        self, job: _Job, progress: Progress, work: Callable[[], Awaitable[Outcome]]
    ) -> Outcome:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        started = time.perf_counter()
        try:
            async with self.slots.acquire(lambda pos: progress("queued", pos)):
                with job.timed("db_processing"):
                    async with self.db.transaction() as session:
                        await mark_processing(session, job.generation_id)
                outcome = await work()
        except BaseException as exc:
            await asyncio.shield(self._fail(job, exc))
            outcome_name = "cancelled" if isinstance(exc, asyncio.CancelledError) else "failed"
            self._finished(job, outcome_name, started, error=type(exc).__name__)
            raise
        finally:
            if task is not None:
                self._running.discard(task)
        self._finished(job, "completed", started)
        outcome.timings = job.timings
        return outcome

    def _finished(self, job: _Job, outcome: str, started: float, error: str | None = None) -> None:
        """One structured line per generation, and its counter."""
        duration_ms = round((time.perf_counter() - started) * 1000)
        if self.metrics is not None:
            self.metrics.generation_finished(job.kind, outcome)
        log.info(
            "generation %s kind=%s user=%s outcome=%s duration_ms=%d",
            job.generation_id,
            job.kind,
            job.user_id,
            outcome,
            duration_ms,
            extra={
                "event": "generation",
                "generation_id": job.generation_id,
                "kind": job.kind,
                "user_id": job.user_id,
                "outcome": outcome,
                "duration_ms": duration_ms,
                "error": error,
                "timings_ms": {k: round(v * 1000) for k, v in job.timings.items()},
            },
        )

    async def _fail(self, job: _Job, exc: BaseException) -> None:
        if isinstance(exc, DomainError):
            message = str(exc)
        elif isinstance(exc, asyncio.CancelledError):
            message = "The generation was stopped because the bot shut down."
        else:
            message = f"Internal error ({type(exc).__name__})."
        log.info("generation %s failed: %s", job.generation_id, message)
        try:
            async with self.db.transaction() as session:
                refunded = await fail_generation(session, job.generation_id, message)
                if job.placeholder_character_id:
                    await delete_unfinished_characters(session, [job.placeholder_character_id])
            if refunded and self.metrics is not None:
                self.metrics.refunded()
        except Exception:
            log.exception(
                "could not record the failure of generation %s; the sweeper will",
                job.generation_id,
            )
        await delete_quietly(self.storage, job.stored_keys)
