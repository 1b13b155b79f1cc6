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

from bot.providers.base import ImageProvider, PromptOptimizer
from bot.services.generation import create, regenerate, variant
from bot.services.generation.model import (
    CreateRequest,
    GenerationMetrics,
    Outcome,
    Progress,
    no_progress,
)
from bot.services.generation.runner import DEFAULT_SETTLE_WITHIN, GenerationRunner
from bot.services.generation.slots import GenerationSlots
from bot.storage.base import Storage
from db.engine import Database

if TYPE_CHECKING:
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
        )

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
        )

    async def create_variant(
        self,
        *,
        user_id: str,
        character_id: str,
        instruction: str,
        theme_name: str | None = None,
        progress: Progress = no_progress,
    ) -> Outcome:
        """Edit the character's current image with an instruction; file it under a theme
        (created when missing; "Variations" when none is given).

        Raises:
            NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
            GenerationError, StorageError, InvalidInputError.
        """
        return await variant.create_variant(
            self.runner,
            self.images,
            user_id=user_id,
            character_id=character_id,
            instruction=instruction,
            theme_name=theme_name,
            progress=progress,
        )

    @property
    def in_flight(self) -> int:
        """Generations running in this process."""
        return self.runner.in_flight

    async def drain(self, grace: float) -> None:
        """Stop taking new generations, let running ones finish for ``grace`` seconds, then
        cancel the rest (their failure path refunds them)."""
        await self.runner.drain(grace)
