"""Builds the Gemini client and picks the providers (Gemini, or offline without a key).

The composition root owns the client: it calls :func:`make_genai_client` once and closes it
on exit with ``await client.aio.aclose()`` (async transport) and ``client.close()``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from google import genai
from google.genai import types

from bot.config import ConfigError, Settings
from bot.providers.base import ImageProvider, PromptOptimizer
from bot.providers.gemini import GeminiImageProvider, GeminiPromptOptimizer
from bot.providers.offline import OfflineImageProvider, OfflinePromptOptimizer


def make_genai_client(settings: Settings) -> genai.Client:
    """A google-genai client for the Gemini Developer API (v1beta), at GEMINI_BASE_URL if set.

    The SDK's own retries are off (``attempts=1``): the providers run the one bounded retry
    loop, so retries never multiply.

    Raises:
        ConfigError: GEMINI_API_KEY is not set.
    """
    if settings.offline_generation or settings.gemini_api_key is None:
        msg = "GEMINI_API_KEY is not set; the offline generator needs no client."
        raise ConfigError(msg)
    return genai.Client(
        api_key=settings.gemini_api_key.get_secret_value().strip(),
        http_options=types.HttpOptions(
            base_url=settings.gemini_base_url,
            api_version="v1beta",
            timeout=max(1, int(settings.gemini_timeout_seconds * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )


def build_providers(
    settings: Settings,
    client: genai.Client | None,
    *,
    retry_gate: Callable[[], Awaitable[object]] | None = None,
) -> tuple[PromptOptimizer, ImageProvider]:
    """The prompt optimiser and image provider the settings call for (``retry_gate`` is
    awaited before each retry: the shared request budget).

    Raises:
        ConfigError: a Gemini key is set but no client was given.
    """
    if settings.offline_generation:
        return OfflinePromptOptimizer(), OfflineImageProvider()
    if client is None:
        msg = "GEMINI_API_KEY is set but no Gemini client was built (use make_genai_client)."
        raise ConfigError(msg)
    redact = settings.secrets()
    optimizer = GeminiPromptOptimizer(
        client,
        settings.gemini_text_model,
        timeout=settings.gemini_timeout_seconds,
        max_retries=settings.gemini_max_retries,
        wait_seconds=settings.gemini_wait_seconds,
        redact=redact,
        retry_gate=retry_gate,
    )
    images = GeminiImageProvider(
        client,
        settings.gemini_image_model,
        timeout=settings.gemini_timeout_seconds,
        max_retries=settings.gemini_max_retries,
        wait_seconds=settings.gemini_wait_seconds,
        redact=redact,
        retry_gate=retry_gate,
    )
    return optimizer, images
