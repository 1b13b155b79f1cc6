"""The generation pipeline: the one object the bot holds to create, regenerate and draw
variants, and to drain them at shutdown.

Each use case is prepare (short transaction: charge the quota, insert the generation pending)
→ provider calls with no transaction open → persist (image and thumbnail stored, short
transaction: rows filled in, completed). Any failure, cancellation included, fails the
generation (which refunds its unit once), deletes the objects already stored and any half-made
character, then re-raises (:mod:`bot.services.generation.runner`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import QuotaExceededError
from bot.providers.base import ImageProvider, LikenessJudge, PictureDescription, PromptOptimizer
from bot.services.accounts import ensure_can_generate
from bot.services.generation import create, regenerate, variant
from bot.services.generation.cancel import CancelAnswer, cancel_generation
from bot.services.generation.likeness import LikenessCheck
from bot.services.generation.model import (
    CreateRequest,
    GenerationMetrics,
    Outcome,
    Progress,
    VariantRequest,
    no_progress,
)
from bot.services.generation.runner import DEFAULT_SETTLE_WITHIN, GenerationRunner
from bot.services.generation.sheet import SHEET_INSTRUCTION, SHEET_THEME
from bot.services.generation.slots import DEFAULT_ACCEPTING_AT_ONCE, GenerationSlots
from bot.services.generation.turns import ConversationTurns
from bot.services.jobs.queue import JobQueue
from bot.services.quota import status_of
from bot.storage.base import Storage
from db.engine import Database
from db.models import User

if TYPE_CHECKING:
    from bot.services.jobs.worker import GenerationWorker
    from bot.services.ratelimit import SharedRateLimit

__all__ = ["CreateRequest", "GenerationPipeline", "Outcome"]


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
        metrics: GenerationMetrics | None = None,
        settle_within: float = DEFAULT_SETTLE_WITHIN,
        accepting_at_once: int = DEFAULT_ACCEPTING_AT_ONCE,
        likeness: LikenessJudge | None = None,
        likeness_threshold: int = 0,
    ) -> None:
        self.db = db
        self.storage = storage
        self.optimizer = optimizer
        self.images = images
        self.slots = slots
        self.text_model = text_model
        self.image_model = image_model
        self.rate_limit = rate_limit
        self.metrics = metrics
        self.runner = GenerationRunner(
            db,
            storage,
            slots=slots,
            rate_limit=rate_limit,
            metrics=metrics,
            settle_within=settle_within,
            accepting_at_once=accepting_at_once,
        )
        self.turns = ConversationTurns()
        self.worker: GenerationWorker | None = None
        """This process's worker (set by the composition root when it runs one)."""
        self.likeness = LikenessCheck(likeness, likeness_threshold)

    async def create_character(
        self, request: CreateRequest, progress: Progress = no_progress
    ) -> Outcome:
        """Create a character: attributes + prompt, portrait, thumbnail, rows.

        Raises:
            InvalidInputError, QuotaExceededError, AccountRestrictedError, GenerationError,
            StorageError; anything else after the generation failed and was refunded.
        """
        return await create.create_character(
            self.runner, self.optimizer, self.images, request, progress
        )

    async def regenerate(
        self,
        *,
        user_id: str,
        character_id: str,
        instruction: str | None = None,
        progress: Progress = no_progress,
        age_restricted: bool = False,
    ) -> Outcome:
        """Draw a new portrait of an existing character (its prompt, plus an instruction).

        Raises:
            NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
            GenerationError, StorageError, InvalidInputError.
        """
        return await regenerate.regenerate(
            self.runner,
            self.images,
            user_id=user_id,
            character_id=character_id,
            instruction=instruction,
            progress=progress,
            age_restricted=age_restricted,
            check=self.likeness,
        )

    async def create_variant(
        self,
        *,
        user_id: str,
        character_id: str,
        instruction: str,
        theme_name: str | None = None,
        progress: Progress = no_progress,
        conversation_id: str | None = None,
    ) -> Outcome:
        """Edit the character's newest image with an instruction; file it under a theme
        (created when missing; "Variations" when none is given). With ``conversation_id`` (the
        character's thread) it waits its turn there like the member's messages.

        Raises:
            NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
            GenerationError, StorageError, InvalidInputError.
        """
        return await self.edit_image(
            VariantRequest(
                user_id=user_id,
                character_id=character_id,
                instruction=instruction,
                theme_name=theme_name,
                conversation_id=conversation_id,
                conversation_theme=False,
            ),
            progress,
        )

    async def edit_image(
        self, request: VariantRequest, progress: Progress = no_progress
    ) -> Outcome:
        """Edit one of the character's images (the one asked for, else the newest), the
        earlier turns of its branch as history. In a conversation the edit waits for the
        member's turn there (its position shown as "queued") after the charge.

        Raises:
            NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
            GenerationError, GenerationCancelled, StorageError, InvalidInputError.
        """
        turn = None
        if request.conversation_id is not None:
            turn = self.turns.turn(
                request.conversation_id,
                request.user_id,
                lambda position: progress("queued", position),
            )
        return await variant.create_variant(
            self.runner, self.images, request, progress, turn=turn, check=self.likeness
        )

    async def character_sheet(
        self,
        *,
        user_id: str,
        character_id: str,
        progress: Progress = no_progress,
        conversation_id: str | None = None,
        age_restricted: bool = False,
    ) -> Outcome:
        """Draw the character's sheet (a turnaround) from its portrait, one quota unit, filed
        under the theme "Character sheet"; later edits send the newest sheet as a reference.

        Raises:
            NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
            GenerationError, GenerationCancelled, StorageError, InvalidInputError.
        """
        return await self.edit_image(
            VariantRequest(
                user_id=user_id,
                character_id=character_id,
                instruction=SHEET_INSTRUCTION,
                theme_name=SHEET_THEME,
                from_portrait=True,
                conversation_id=conversation_id,
                conversation_theme=False,
                character_sheet=True,
                age_restricted=age_restricted,
            ),
            progress,
        )

    async def cancel(self, generation_id: str, user_id: str) -> CancelAnswer:
        """Cancel the member's generation: waiting, it leaves the queue; running, its provider
        call is abandoned; either way it is failed and refunded before this returns.

        Raises: NotFoundError("generation"), NotOwnerError.
        """
        return await cancel_generation(self.runner, generation_id, user_id)

    async def describe_picture(
        self, image: bytes, mime_type: str, *, user: User, age_restricted: bool = False
    ) -> PictureDescription:
        """The character a picture shows, read by the text model, within the shared request
        budget. Nothing is charged (the create that follows is), but only a member who could
        create now is answered: an active account with a unit left today.

        Raises: AccountRestrictedError, QuotaExceededError, GenerationError.
        """
        ensure_can_generate(user)
        standing = status_of(user)
        if standing.remaining <= 0:
            raise QuotaExceededError(standing.quota, standing.resets_at)
        if self.rate_limit is not None:
            await self.rate_limit.acquire()
        content_filter = "relaxed" if age_restricted else "moderate"
        return await self.optimizer.describe(image, mime_type, content_filter=content_filter)

    @property
    def in_flight(self) -> int:
        """Generations running in this process."""
        return self.runner.in_flight

    @property
    def queue(self) -> JobQueue:
        """The generation queue (set by the composition root).

        Raises: RuntimeError when generations run without one.
        """
        if self.runner.queue is None:
            msg = "this pipeline has no generation queue"
            raise RuntimeError(msg)
        return self.runner.queue

    async def drain(self, grace: float) -> None:
        """Stop taking new generations, let running ones finish for ``grace`` seconds, then
        give the rest back to the queue (a worker takes them up again) or, with no worker
        here, fail and refund them."""
        if self.worker is not None:
            await self.worker.drain(grace)
        else:
            await self.runner.drain(grace)
