"""``charbot doctor``'s checks of image storage and of Gemini, each failure with its fix."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
from google.genai import errors as genai_errors
from google.genai import types

from bot.config import Settings
from bot.errors import StorageError
from bot.ops.doctor_checks import Check, scrub
from bot.providers.factory import make_genai_client
from bot.storage.factory import open_storage

GEMINI_DEFAULT_BASE = "https://generativelanguage.googleapis.com"
MODELS_PAGE = "https://ai.google.dev/gemini-api/docs/models"
KEY_PAGE = "https://aistudio.google.com/apikey"
LOOKUP_TIMEOUT_MS = 15_000

# -- storage ---------------------------------------------------------------------------------


def _storage_fix(settings: Settings) -> str:
    if settings.s3_bucket:
        return (
            "Check S3_BUCKET (the bucket must exist), S3_ENDPOINT_URL, S3_REGION and the AWS "
            "credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): they need s3:PutObject, "
            "s3:GetObject and s3:DeleteObject on the bucket."
        )
    return f"Make {settings.data_dir} writable by this user (DATA_DIR), or set S3_BUCKET."


async def _fetch(url: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
        http.get(url) as resp,
    ):
        return resp.status, await resp.read()


async def _served(settings: Settings, url: str, data: bytes) -> Check | None:
    """None when ``url`` serves ``data``, else the failing check."""
    public = settings.s3_public_base_url
    what = (
        f"S3_PUBLIC_BASE_URL {public} does not serve a just-written object"
        if public
        else "the presigned URL of a just-written object does not serve it"
    )
    fix = (
        "S3_PUBLIC_BASE_URL must be the public address of the bucket (or its CDN) such that "
        "<S3_PUBLIC_BASE_URL>/<key> serves the object <key>: allow public reads on the bucket "
        "(or point the CDN at it), or unset S3_PUBLIC_BASE_URL to use presigned links."
        if public
        else "Check S3_REGION and S3_ENDPOINT_URL: the signed link must reach the bucket."
    )
    shown = f"{public.rstrip('/')}/{url.rsplit('/', 1)[-1]}" if public else "it"
    try:
        status, body = await _fetch(url)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check("storage", False, f"{what}: cannot fetch {shown}: {type(exc).__name__}", fix)
    if status != 200:
        return Check("storage", False, f"{what}: GET {shown} answered HTTP {status}", fix)
    if body != data:
        return Check("storage", False, f"{what}: GET {shown} answered other bytes", fix)
    return None


async def check_storage(settings: Settings) -> Check:
    """A probe object can be written, read back (through S3_PUBLIC_BASE_URL, or its presigned
    URL, as a browser or Discord would) and deleted."""
    where = (
        f"S3 bucket {settings.s3_bucket} (S3_BUCKET)"
        if settings.s3_bucket
        else f"local files in {settings.data_dir / 'images'}"
    )
    token = uuid.uuid4().hex
    key = f"doctor/probe-{token}.txt"
    data = f"charbot doctor probe {token}".encode()
    verdict: Check | None = None
    try:
        async with open_storage(settings) as storage:
            try:
                url = await storage.put(key, data, "text/plain")
            except (StorageError, OSError) as exc:
                fix = _storage_fix(settings)
                return Check("storage", False, f"{where} cannot be written: {_why(exc)}", fix)
            try:
                if settings.s3_bucket:
                    verdict = await _served(settings, url, data)
                elif await storage.get(key) != data:
                    verdict = Check("storage", False, f"{where}: a probe read back differs", "")
            finally:
                await storage.delete(key)
    except (StorageError, OSError) as exc:
        return Check("storage", False, f"{where}: {_why(exc)}", _storage_fix(settings))
    except Exception as exc:  # noqa: BLE001 - a broken client configuration is the answer
        return Check("storage", False, f"{where}: {type(exc).__name__}", _storage_fix(settings))
    if verdict is not None:
        return verdict if verdict.fix else _with_fix(verdict, _storage_fix(settings))
    note = ""
    if settings.s3_bucket and not settings.s3_public_base_url:
        note = (
            "The image URLs saved for the web front end are presigned and stop working after "
            "7 days: set S3_PUBLIC_BASE_URL (a CDN or public bucket URL) for lasting links."
        )
    served = " and served" if settings.s3_bucket else ""
    return Check("storage", True, f"{where}: writable{served}", note=note)


def _why(exc: BaseException) -> str:
    if isinstance(exc, StorageError):
        return exc.detail or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _with_fix(check: Check, fix: str) -> Check:
    return Check(check.name, check.ok, check.detail, fix, check.note, check.more)


# -- Gemini ----------------------------------------------------------------------------------


def _reason(exc: genai_errors.APIError) -> str:
    """The ErrorInfo reason of a Google API error (API_KEY_INVALID ...), or ""."""
    body: Any = exc.details
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and detail.get("reason"):
            return str(detail["reason"])
    return ""


def _key_failure(exc: genai_errors.APIError, reason: str, said: str) -> Check | None:
    """The failing check when the error is about the key (or the service), else None."""
    answer = f"HTTP {exc.code} {reason or exc.status or ''}".rstrip()
    if exc.code == 400 and (reason.startswith("API_KEY") or "API key" in said):
        return Check(
            "gemini",
            False,
            f"Gemini refused GEMINI_API_KEY: the key is not valid ({answer})",
            f"Create a key at {KEY_PAGE} and set GEMINI_API_KEY to it (or unset GEMINI_API_KEY "
            "to use the offline generator).",
        )
    if exc.code in (401, 403):
        return Check(
            "gemini",
            False,
            f"GEMINI_API_KEY may not use the Gemini API ({answer}): {said}",
            "Enable the Generative Language API for the key's Google Cloud project and lift "
            f"API or IP restrictions from the key, or create a new key at {KEY_PAGE}.",
        )
    if exc.code == 429:
        return Check(
            "gemini",
            False,
            f"the quota of GEMINI_API_KEY is used up ({answer})",
            "Wait for the quota to refill, or raise it (billing) for the key's project.",
        )
    if exc.code >= 500:
        return Check("gemini", False, f"Gemini answered {answer}", "Try again later.")
    return None


async def check_gemini(settings: Settings) -> Check:
    """The key is accepted and both configured models exist (one models.get each)."""
    if settings.offline_generation:
        return Check(
            "gemini",
            True,
            "no GEMINI_API_KEY: the offline generator draws placeholder portraits",
            "Set GEMINI_API_KEY for real images.",
        )
    base = (settings.gemini_base_url or GEMINI_DEFAULT_BASE).rstrip("/")
    secrets = settings.secrets()
    problems: list[str] = []
    config = types.GetModelConfig(http_options=types.HttpOptions(timeout=LOOKUP_TIMEOUT_MS))
    client = make_genai_client(settings)
    try:
        for setting, model in (
            ("GEMINI_TEXT_MODEL", settings.gemini_text_model),
            ("GEMINI_IMAGE_MODEL", settings.gemini_image_model),
        ):
            try:
                found = await client.aio.models.get(model=model, config=config)
            except genai_errors.APIError as exc:
                said = scrub(str(exc.message or ""), secrets, limit=200)
                key_failure = _key_failure(exc, _reason(exc), said)
                if key_failure is not None:
                    return key_failure
                if exc.code == 404:
                    problems.append(f"{setting}={model}: no such model (HTTP 404 NOT_FOUND)")
                else:
                    answer = f"HTTP {exc.code} {exc.status or ''}".rstrip()
                    problems.append(f"{setting}={model}: {answer}: {said}")
                continue
            except Exception as exc:  # noqa: BLE001 - the transport's failure is the answer
                return Check(
                    "gemini",
                    False,
                    f"cannot reach {base}: {type(exc).__name__}",
                    "Check GEMINI_BASE_URL (unset it for Google's API) and the network.",
                )
            actions = found.supported_actions or []
            if actions and "generateContent" not in actions:
                problems.append(f"{setting}={model}: the model cannot generate content")
    finally:
        await client.aio.aclose()
        client.close()
    if problems:
        return Check(
            "gemini",
            False,
            "; ".join(problems),
            "Set GEMINI_TEXT_MODEL and GEMINI_IMAGE_MODEL to models your key can use "
            f"(defaults: gemini-2.5-flash, gemini-2.5-flash-image; the list: {MODELS_PAGE}).",
        )
    return Check(
        "gemini",
        True,
        f"key accepted at {base}; models {settings.gemini_text_model} and "
        f"{settings.gemini_image_model} exist",
    )
