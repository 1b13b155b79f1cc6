"""The likeness check: a new image is scored against the character's reference (its
portrait) by the text model; below the threshold it is drawn once more, at no extra quota,
and the better of the two kept. The check never fails a generation: a scoring call that errs
leaves the image without a score (logged). A cancel stops it like any provider call."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import GenerationCancelled, GenerationError
from bot.providers.base import ImageResult, LikenessJudge, LikenessScore
from bot.services.generation.model import Progress
from bot.services.generation.runner import GenerationRunner, Job
from db.meta import LIKENESS_ATTEMPTS, LIKENESS_FIELDS, LIKENESS_REASON, LIKENESS_SCORE

__all__ = ["LIKENESS_FIELDS", "Checked", "LikenessCheck", "draw_alike"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LikenessCheck:
    """Who scores, and the score below which an image is drawn again (0 = no check)."""

    judge: LikenessJudge | None
    threshold: int

    @property
    def active(self) -> bool:
        """Whether images are checked at all."""
        return self.judge is not None and self.threshold > 0


@dataclass(frozen=True)
class Checked:
    """The image kept, its score (None: not checked, or the check failed), and how many
    images were drawn."""

    image: ImageResult
    score: LikenessScore | None = None
    attempts: int = 1

    def meta(self) -> dict[str, Any]:
        """The metadata fields that record the check (empty when there is no score)."""
        if self.score is None:
            return {}
        return {
            LIKENESS_SCORE: self.score.score,
            LIKENESS_REASON: self.score.reason,
            LIKENESS_ATTEMPTS: self.attempts,
        }


async def _score(
    runner: GenerationRunner,
    judge: LikenessJudge,
    job: Job,
    progress: Progress,
    reference: bytes,
    image: ImageResult,
) -> LikenessScore | None:
    await progress("checking", None)
    try:
        score = await runner.call_provider(
            job,
            "text",
            "checking",
            progress,
            lambda: judge.compare_likeness(reference, image.data, image_mime=image.mime_type),
        )
    except GenerationCancelled:
        raise
    except GenerationError as exc:
        log.warning(
            "likeness check of generation %s failed (%s); the image is kept without a score",
            job.generation_id,
            exc.kind,
        )
    except Exception:  # the check never fails the generation
        log.warning(
            "likeness check of generation %s failed; the image is kept without a score",
            job.generation_id,
            exc_info=True,
        )
    else:  # the generations table has no metadata: its score is logged with its id
        log.info(
            "generation %s likeness %d: %s",
            job.generation_id,
            score.score,
            score.reason,
            extra={
                "event": "likeness",
                "generation_id": job.generation_id,
                "score": score.score,
                "model": score.model,
            },
        )
        return score
    return None


async def draw_alike(
    runner: GenerationRunner,
    check: LikenessCheck | None,
    job: Job,
    progress: Progress,
    reference: bytes | None,
    draw: Callable[[], Awaitable[ImageResult]],
) -> Checked:
    """``draw()`` an image and, when the check is on and there is a ``reference``, score it;
    below the threshold draw once more and keep the better scored of the two.

    Raises: whatever the first ``draw()`` raises; GenerationCancelled.
    """
    first = await draw()
    if check is None or check.judge is None or not check.active or reference is None:
        return Checked(first)
    judge = check.judge
    score = await _score(runner, judge, job, progress, reference, first)
    if score is None or score.score >= check.threshold:
        return Checked(first, score)
    log.info(
        "generation %s: likeness %d below %d, drawing once more",
        job.generation_id,
        score.score,
        check.threshold,
    )
    try:
        second = await draw()
    except GenerationError as exc:  # GenerationCancelled is no GenerationError: it ends the run
        log.info("generation %s: the second drawing failed (%s)", job.generation_id, exc.kind)
        return Checked(first, score, 2)
    second_score = await _score(runner, judge, job, progress, reference, second)
    if second_score is None or second_score.score <= score.score:
        return Checked(first, score, 2)
    return Checked(second, second_score, 2)
