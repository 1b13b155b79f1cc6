"""The Gemini text model with the describe capability: the prompt optimiser that also reads a
picture (a JSON text request with the image attached) into a character's attributes."""

from __future__ import annotations

from google.genai import types

from bot.providers.base import PictureDescription
from bot.providers.describe import DESCRIBE_INSTRUCTION, description_schema, parse_description
from bot.providers.gemini import (  # the module's own response readers
    GeminiPromptOptimizer,
    _candidate_text,
    _check_blocked,
    _enum_name,
)


class GeminiTextModel(GeminiPromptOptimizer):
    """Attributes and prompts from descriptions, and from pictures."""

    async def describe(
        self, image: bytes, mime_type: str, *, content_filter: str = "moderate"
    ) -> PictureDescription:
        """The character the picture shows (a text request with the image attached).

        Raises: GenerationError on provider failure or an unusable answer.
        """
        config = self._config(
            content_filter,
            system_instruction=DESCRIBE_INSTRUCTION,
            response_mime_type="application/json",
            response_schema=description_schema(),
            temperature=0.4,
        )
        parts = [
            types.Part.from_bytes(data=image, mime_type=mime_type),
            types.Part.from_text(text=f"Describe this picture. Content filter: {content_filter}"),
        ]
        response = await self._generate(parts, config, operation="picture description")
        candidate = _check_blocked(response)
        return parse_description(
            _candidate_text(candidate),
            finish=_enum_name(candidate.finish_reason),
            model=self._model,
        )
