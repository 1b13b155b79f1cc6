"""Gemini providers: a text model for attributes + prompt, an image model for portraits and edits.

Both talk to ``client.aio.models.generate_content``. Each attempt is bounded by
``asyncio.timeout`` (also sent to the SDK, which forwards it as ``X-Server-Timeout``); the
SDK's own retries are off so that only :mod:`bot.providers.retry` retries (429 and 5xx) and
waits out a busy provider (Retry-After) for up to GEMINI_WAIT_SECONDS. Timeouts are not
retried (a hung generation already cost a long wait). No error or log line has the API key.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import aiohttp
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import ValidationError

from bot.providers.base import (
    MAX_HISTORY_TURNS,
    EditTurn,
    ImageResult,
    PromptResult,
    SceneReference,
)
from bot.providers.gemini_attributes import SYSTEM_INSTRUCTION, attributes_schema, parse_attributes
from bot.providers.gemini_sdk import given_fields, retry_after
from bot.providers.retry import ProviderError, RetryPolicy, with_retries
from bot.providers.scene_art import reference_items, scene_instruction

log = logging.getLogger(__name__)

STYLE_HINTS: Mapping[str, str] = MappingProxyType(
    {
        "realistic": "photorealistic portrait, natural skin texture, soft studio light",
        "anime": "anime illustration, clean line art, cel shading, vibrant colours",
        "cartoon": "cartoon style, bold outlines, flat bright colours, expressive proportions",
        "fantasy": "fantasy painting, rich detail, dramatic lighting, painterly brushwork",
        "cyberpunk": "cyberpunk art, neon lighting, rain-slick city, magenta and cyan glow",
        "vintage": "vintage portrait, film grain, muted sepia tones, 1950s photography",
        "minimalist": "minimalist illustration, simple shapes, limited palette, negative space",
    }
)

_THRESHOLDS: dict[str, types.HarmBlockThreshold] = {
    "strict": types.HarmBlockThreshold.BLOCK_LOW_AND_ABOVE,
    "moderate": types.HarmBlockThreshold.BLOCK_MEDIUM_AND_ABOVE,
    "relaxed": types.HarmBlockThreshold.BLOCK_ONLY_HIGH,
}
_HARM_CATEGORIES: tuple[types.HarmCategory, ...] = (
    types.HarmCategory.HARM_CATEGORY_HARASSMENT,
    types.HarmCategory.HARM_CATEGORY_HATE_SPEECH,
    types.HarmCategory.HARM_CATEGORY_SEXUALLY_EXPLICIT,
    types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT,
)
_SAFETY_FINISH = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
    }
)
_KEY_PATTERNS = (re.compile(r"AIza[0-9A-Za-z_\-]{20,}"), re.compile(r"(?i)(key=)[^&\s'\"]+"))


def safety_settings(level: str) -> list[types.SafetySetting]:
    """The safety settings for a member's content filter level (unknown levels = moderate)."""
    threshold = _THRESHOLDS.get(level, _THRESHOLDS["moderate"])
    return [types.SafetySetting(category=c, threshold=threshold) for c in _HARM_CATEGORIES]


def style_hint(style: str) -> str:
    """A short description of an art style's look, for prompts."""
    return STYLE_HINTS.get(style, STYLE_HINTS["realistic"])


class _GeminiCaller:
    """Shared plumbing: one bounded, retried ``generate_content`` call."""

    def __init__(
        self,
        client: genai.Client,
        model: str,
        *,
        timeout: float,
        max_retries: int,
        backoff_base: float = 1.0,
        wait_seconds: float = 0.0,
        redact: Sequence[str] = (),
        retry_gate: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._client = client
        # Awaited before every retry, so retries also wait for a slot of the shared request
        # budget (the first attempt's slot is taken by the caller, who shows the queue).
        self._retry_gate = retry_gate
        self._model = model
        self._timeout = timeout
        self._policy = RetryPolicy(
            max_retries=max_retries, backoff_base=backoff_base, wait_seconds=wait_seconds
        )
        secrets = [s for s in redact if s]
        client_key = getattr(getattr(client, "_api_client", None), "api_key", None)
        if isinstance(client_key, str) and client_key:
            secrets.append(client_key)
        self._secrets = tuple(secrets)

    def _config(self, content_filter: str, **extra: Any) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            safety_settings=safety_settings(content_filter),
            http_options=types.HttpOptions(
                timeout=max(1, int(self._timeout * 1000)),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
            # no tools are given: skip the SDK's function-calling loop (a second deep copy of
            # the config and an "AFC is enabled" log line per request)
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            **extra,
        )

    async def _generate(
        self,
        contents: list[types.Part],
        config: types.GenerateContentConfig,
        *,
        operation: str,
        history: Sequence[types.Content] = (),
    ) -> types.GenerateContentResponse:
        this_turn = types.Content(role="user", parts=contents)
        # earlier turns first, then this one: a multi-turn conversation
        request: types.Content | list[types.Content] = (
            [*history, this_turn] if history else this_turn
        )

        async def attempt() -> types.GenerateContentResponse:
            try:
                async with asyncio.timeout(self._timeout):
                    return await self._client.aio.models.generate_content(
                        model=self._model, contents=request, config=given_fields(config)
                    )
            except genai_errors.APIError as exc:
                raise self._from_api_error(exc) from None
            except TimeoutError:
                raise ProviderError(
                    "timeout", detail=f"no answer within {self._timeout:g}s"
                ) from None
            except aiohttp.ClientError as exc:
                raise ProviderError(
                    "unavailable", retryable=True, detail=self._scrub(type(exc).__name__)
                ) from None
            except (ValidationError, ValueError) as exc:
                raise ProviderError(
                    "invalid_response", detail=self._scrub(f"unparseable response: {exc}")[:300]
                ) from None

        return await with_retries(
            attempt, self._policy, operation=operation, sleep=self._before_retry
        )

    async def _before_retry(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._retry_gate is not None:
            await self._retry_gate()

    def _from_api_error(self, exc: genai_errors.APIError) -> ProviderError:
        code = int(exc.code) if isinstance(exc.code, int) else 0
        detail = self._scrub(f"HTTP {code} {exc.status or ''}: {exc.message or ''}")[:300]
        if code == 429:
            return ProviderError(
                "rate_limited", retryable=True, detail=detail, retry_after=retry_after(exc)
            )
        if code >= 500 or code == 408:
            return ProviderError(
                "unavailable", retryable=True, detail=detail, retry_after=retry_after(exc)
            )
        if code in (401, 403, 404):
            log.error("Gemini rejected the request (check key and model): %s", detail)
            return ProviderError("unavailable", detail=detail)
        return ProviderError("invalid_response", detail=detail)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        text = _KEY_PATTERNS[0].sub("[redacted]", text)
        return _KEY_PATTERNS[1].sub(r"\1[redacted]", text)


def _enum_name(value: object) -> str:
    return str(getattr(value, "value", value) or "")


def _check_blocked(response: types.GenerateContentResponse) -> types.Candidate:
    """The first candidate, or the GenerationError the response stands for."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = _enum_name(feedback.block_reason)
        raise ProviderError("blocked", detail=f"prompt blocked: {reason}")
    if not response.candidates:
        raise ProviderError("invalid_response", detail="no candidates in the response")
    candidate = response.candidates[0]
    finish = _enum_name(candidate.finish_reason)
    if finish in _SAFETY_FINISH:
        raise ProviderError("safety", detail=f"finish reason {finish}")
    return candidate


def _candidate_text(candidate: types.Candidate) -> str:
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    return "".join(p.text for p in parts if p.text and not p.thought)


def _turns(history: Sequence[EditTurn]) -> list[types.Content]:
    """Earlier edits as conversation turns: the member's instruction, the model's image."""
    turns: list[types.Content] = []
    for turn in list(history)[-MAX_HISTORY_TURNS:]:
        turns.append(
            types.Content(
                role="user",
                parts=[
                    types.Part.from_text(text=f"Edit this image of a character: {turn.instruction}")
                ],
            )
        )
        turns.append(
            types.Content(
                role="model",
                parts=[types.Part.from_bytes(data=turn.image, mime_type=turn.mime_type)],
            )
        )
    return turns


class GeminiPromptOptimizer(_GeminiCaller):
    """Extracts attributes and an optimised image prompt with a Gemini text model (JSON mode)."""

    async def optimize(
        self,
        description: str,
        *,
        style: str,
        name: str | None = None,
        gender: str | None = None,
        age: str | None = None,
        content_filter: str = "moderate",
    ) -> PromptResult:
        """Raises: GenerationError on provider failure or an unusable answer."""
        config = self._config(
            content_filter,
            system_instruction=SYSTEM_INSTRUCTION,
            response_mime_type="application/json",
            response_schema=attributes_schema(),
            temperature=0.8,
        )
        request = "\n".join(
            (
                f"Description: {description}",
                f"Art style: {style} ({style_hint(style)})",
                f"Name: {name or '(invent a fitting name)'}",
                f"Gender: {gender or '(from the description, or your choice)'}",
                f"Age: {age or '(from the description, or your choice)'}",
                f"Content filter: {content_filter}",
            )
        )
        response = await self._generate(
            [types.Part.from_text(text=request)], config, operation="prompt optimisation"
        )
        candidate = _check_blocked(response)
        return parse_attributes(
            _candidate_text(candidate),
            finish=_enum_name(candidate.finish_reason),
            model=self._model,
            name=name,
            gender=gender,
            age=age,
        )


class GeminiImageProvider(_GeminiCaller):
    """Draws and edits portraits with a Gemini image model (``response_modalities`` IMAGE)."""

    def _modalities(self) -> list[str]:
        # The 2.0 experimental image models refuse IMAGE alone; later ones accept it.
        return ["TEXT", "IMAGE"] if "2.0" in self._model else ["IMAGE"]

    async def generate(
        self,
        prompt: str,
        *,
        style: str,
        content_filter: str = "moderate",
        reference: bytes | None = None,
        reference_mime: str | None = None,
    ) -> ImageResult:
        """Raises: GenerationError on provider failure or when no image came back."""
        text = (
            f"{prompt}\n\nArt style: {style} ({style_hint(style)}). A single character "
            "portrait, centred, no text, no watermark."
        )
        parts = [types.Part.from_text(text=text)]
        if reference:
            parts[0] = types.Part.from_text(
                text=text + " Use the attached image as the reference for the character."
            )
            parts.append(
                types.Part.from_bytes(data=reference, mime_type=reference_mime or "image/png")
            )
        return await self._image(parts, content_filter, operation="image generation")

    async def edit(
        self,
        image: bytes,
        mime_type: str,
        instruction: str,
        *,
        style: str,
        content_filter: str = "moderate",
        history: Sequence[EditTurn] = (),
        references: Sequence[bytes] = (),
    ) -> ImageResult:
        """Edit the image (sent first, the extra ``references`` after it); the earlier turns of
        its branch (``history``, oldest first: each instruction, then its image) go before.

        Raises: GenerationError on provider failure or when no image came back."""
        text = (
            f"Edit this image of a character: {instruction}\nKeep the same character, face, "
            f"identity and the {style} art style ({style_hint(style)}) unless the instruction "
            "says otherwise. No text, no watermark."
        )
        text += " The other attached images show the same character." if references else ""
        parts = [
            types.Part.from_bytes(data=image, mime_type=mime_type),
            *(types.Part.from_bytes(data=extra, mime_type="image/png") for extra in references),
            types.Part.from_text(text=text),
        ]
        return await self._image(
            parts, content_filter, operation="image edit", history=_turns(history)
        )

    async def compose(
        self, prompt: str, refs: Sequence[SceneReference], *, style: str, content_filter: str = ""
    ) -> ImageResult:
        """The instruction, then each portrait after its label. Raises: GenerationError."""
        text = scene_instruction(prompt, [r.name for r in refs], style, style_hint(style))
        parts = [types.Part.from_text(text=text)] + [
            types.Part.from_text(text=item)
            if isinstance(item, str)
            else types.Part.from_bytes(data=item[0], mime_type=item[1])
            for item in reference_items(refs)
        ]
        return await self._image(parts, content_filter or "moderate", operation="scene generation")

    async def _image(
        self,
        parts: list[types.Part],
        content_filter: str,
        *,
        operation: str,
        history: Sequence[types.Content] = (),
    ) -> ImageResult:
        config = self._config(content_filter, response_modalities=self._modalities())
        response = await self._generate(parts, config, operation=operation, history=history)
        candidate = _check_blocked(response)
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        for part in parts:
            blob = part.inline_data
            if blob is not None and blob.data and (blob.mime_type or "").startswith("image/"):
                return ImageResult(
                    data=blob.data, mime_type=blob.mime_type or "image/png", model=self._model
                )
        finish = _enum_name(candidate.finish_reason) or "none"
        raise ProviderError("no_image", detail=f"no image part (finish reason {finish})")
