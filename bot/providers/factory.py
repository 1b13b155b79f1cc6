"""Builds the Gemini client and picks the providers (Gemini, or offline without a key).

The composition root owns the client: it opens :func:`gemini_session` and calls
:func:`make_genai_client` once, and closes them on exit with ``await client.aio.aclose()``
(async transport), ``client.close()`` and ``await session.close()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from google import genai
from google.genai import types
from yarl import URL

from bot.config import ConfigError, Settings
from bot.providers.base import ImageProvider, LikenessJudge, PromptOptimizer
from bot.providers.gemini import GeminiImageProvider
from bot.providers.gemini_describe import GeminiTextModel
from bot.providers.gemini_likeness import GeminiLikenessJudge
from bot.providers.likeness import OfflineLikenessJudge
from bot.providers.offline import OfflineImageProvider, OfflinePromptOptimizer

GEMINI_URL = "https://generativelanguage.googleapis.com"
"""Where google-genai sends Developer API requests when GEMINI_BASE_URL is not set."""

_READ_BUFFER = 2**22
"""The read buffer google-genai gives its own session: an image answer is megabytes."""


def gemini_session(settings: Settings) -> aiohttp.ClientSession:
    """The HTTP session the Gemini client sends its requests on (open it in the running loop).

    google-genai's own session trusts the environment on every request: two trips through
    the thread pool each time (``~/.netrc``, then the proxy variables), which under a burst of
    creates hold up the request behind the loop's other work. Here the proxy the environment
    names for Gemini (HTTPS_PROXY, NO_PROXY …) is read once, when the bot starts."""
    proxy: URL | None = None
    proxy_auth: aiohttp.BasicAuth | None = None
    with contextlib.suppress(LookupError):
        proxy, proxy_auth = get_env_proxy_for_url(URL(settings.gemini_base_url or GEMINI_URL))
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        read_bufsize=_READ_BUFFER,
        proxy=proxy,
        proxy_auth=proxy_auth,
    )


def make_genai_client(
    settings: Settings, session: aiohttp.ClientSession | None = None
) -> genai.Client:
    """A google-genai client for the Gemini Developer API (v1beta), at GEMINI_BASE_URL if set,
    sending on ``session`` when given (:func:`gemini_session`; its owner closes it).

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
            aiohttp_client=session,
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
    optimizer = GeminiTextModel(
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


def build_likeness_judge(
    settings: Settings,
    client: genai.Client | None,
    *,
    retry_gate: Callable[[], Awaitable[object]] | None = None,
) -> LikenessJudge | None:
    """Who scores a new image's likeness to the portrait: the Gemini text model, or offline a
    perceptual hash; None when CONSISTENCY_THRESHOLD is 0 (the check is off).

    Raises:
        ConfigError: a Gemini key is set but no client was given.
    """
    if settings.consistency_threshold <= 0:
        return None
    if settings.offline_generation:
        return OfflineLikenessJudge()
    if client is None:
        msg = "GEMINI_API_KEY is set but no Gemini client was built (use make_genai_client)."
        raise ConfigError(msg)
    # an optional check: one retry at most, and a busy provider is not waited out (the image
    # is kept unscored rather than the member kept waiting)
    return GeminiLikenessJudge(
        client,
        settings.gemini_text_model,
        timeout=settings.gemini_timeout_seconds,
        max_retries=min(1, settings.gemini_max_retries),
        wait_seconds=0.0,
        redact=settings.secrets(),
        retry_gate=retry_gate,
    )
