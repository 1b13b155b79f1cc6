"""The likeness check with the Gemini text model: both images are sent, the model answers a
0-100 score and a short reason as JSON (structured output)."""

from __future__ import annotations

import functools

from google.genai import types
from pydantic import BaseModel, Field, ValidationError

from bot.providers.base import LikenessScore
from bot.providers.gemini import (
    _candidate_text,
    _check_blocked,
    _enum_name,
    _GeminiCaller,
)
from bot.providers.retry import ProviderError

LIKENESS_INSTRUCTION = (
    "You check the consistency of a character across images. The first image is the "
    "character's reference portrait, the second a new image meant to show the same character "
    "(its pose, clothes, setting or expression may differ on purpose). Score from 0 to 100 how "
    "clearly the second image shows the same character: face, hair, build, colouring and "
    "distinguishing features. 100 = unmistakably the same, 0 = someone else. reason: one "
    "short sentence in English about what matches or differs."
)
LIKENESS_REQUEST = "Likeness check: is the second image the same character as the first?"


class LikenessDocument(BaseModel):
    """The JSON the text model must return (also sent as the response schema)."""

    score: int = Field(ge=0, le=100)
    reason: str = Field(max_length=1000)


@functools.cache
def likeness_schema() -> types.Schema | type[LikenessDocument]:
    """The response schema, converted once (see ``attributes_schema``)."""
    try:
        from google.genai import _transformers

        converted = _transformers.t_schema(None, LikenessDocument)
    except Exception:  # noqa: BLE001 - an SDK without the helper: the slower, same request
        return LikenessDocument
    return converted if converted is not None else LikenessDocument


def parse_likeness(answer: str, *, finish: str, model: str) -> LikenessScore:
    """The model's JSON answer as a score.

    Raises: ProviderError ``invalid_response`` when it is not the likeness schema.
    """
    try:
        doc = LikenessDocument.model_validate_json(answer)
    except ValidationError:
        raise ProviderError(
            "invalid_response",
            detail=f"text model answer is not the likeness schema (finish {finish})",
        ) from None
    return LikenessScore(score=doc.score, reason=doc.reason.strip()[:300], model=model)


class GeminiLikenessJudge(_GeminiCaller):
    """Compares two images with a Gemini text model (JSON mode)."""

    async def compare_likeness(
        self,
        reference: bytes,
        image: bytes,
        *,
        reference_mime: str = "image/png",
        image_mime: str = "image/png",
    ) -> LikenessScore:
        """Raises: GenerationError on provider failure or an unusable answer."""
        config = self._config(
            "moderate",
            system_instruction=LIKENESS_INSTRUCTION,
            response_mime_type="application/json",
            response_schema=likeness_schema(),
            temperature=0.0,
        )
        parts = [
            types.Part.from_bytes(data=reference, mime_type=reference_mime),
            types.Part.from_bytes(data=image, mime_type=image_mime),
            types.Part.from_text(text=LIKENESS_REQUEST),
        ]
        response = await self._generate(parts, config, operation="likeness check")
        candidate = _check_blocked(response)
        finish = _enum_name(candidate.finish_reason)
        return parse_likeness(_candidate_text(candidate), finish=finish, model=self._model)
