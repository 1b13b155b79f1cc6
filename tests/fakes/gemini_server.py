"""A fake Gemini API on 127.0.0.1 that the real google-genai SDK talks to over HTTP.

It speaks ``POST /v1beta/models/{model}:generateContent`` (the path the SDK 3.x calls, with the
key in the ``x-goog-api-key`` header, or ``?key=``), records every request, answers text
requests with a JSON attributes document derived from the request and image requests (those
asking for the IMAGE modality) with a real PNG as ``inlineData``. Failures are scriptable with
:meth:`FakeGemini.fail_next`, and for a stretch of time with :meth:`FakeGemini.storm` (every
request answered 429 with Retry-After, say); latency per kind is configurable, or per request
with :attr:`FakeGemini.latency_for` (each request records the latency it was given); requests
in flight are counted. A likeness check (a text request that says "Likeness check") is answered
with a score: the scripted ones (:meth:`FakeGemini.score_next`) in order, then
``likeness_default``.

It also answers ``GET /v1beta/models/{model}`` (``models.get``) and ``GET /v1beta/models``
(``models.list``), and errs as Google does: a model it does not know is HTTP 404 NOT_FOUND
("models/xyz is not found for API version v1beta ..."); with ``api_keys`` given, any other key
is HTTP 400 INVALID_ARGUMENT whose ErrorInfo reason is ``API_KEY_INVALID``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

FAILURE_KINDS = (
    "blocked",
    "image_safety",
    "no_image",
    "text_only",
    "429",
    "500",
    "503",
    "hang",
    "bad_json",
    "invalid_key",
)

#: The models the fake knows (real Gemini model names); others are 404 NOT_FOUND.
KNOWN_MODELS = frozenset(
    {
        "gemini-2.0-flash",
        "gemini-2.0-flash-preview-image-generation",
        "gemini-2.5-flash",
        "gemini-2.5-flash-image",
        "gemini-2.5-flash-image-preview",
        "gemini-2.5-flash-lite",
        "gemini-2.5-pro",
        "gemini-3-pro-image-preview",
        "gemini-3-pro-preview",
    }
)
API_KEY_INVALID_MESSAGE = "API key not valid. Please pass a valid API key."


@dataclass
class RecordedRequest:
    """One request the fake received."""

    model: str
    body: dict[str, Any]
    api_key: str | None
    texts: list[str] = field(default_factory=list)
    images: list[bytes] = field(default_factory=list)
    image_mimes: list[str] = field(default_factory=list)
    kind: str = "text"  # "text" or "image"
    failure: str | None = None  # the scripted failure it was answered with, if any
    received_at: float = field(default_factory=time.monotonic)  # when the body had arrived
    latency: float = 0.0  # the seconds the fake waited before answering it

    @property
    def text(self) -> str:
        """All text parts (system instruction excluded), joined by newlines."""
        return "\n".join(self.texts)

    @property
    def turns(self) -> list[tuple[str, list[str], list[bytes]]]:
        """The request's contents in order, as (role, text parts, image parts): a multi-turn
        request shows its history (user instruction, model image, ...) before the last turn."""
        contents = self.body.get("contents") or []
        out: list[tuple[str, list[str], list[bytes]]] = []
        for content in contents if isinstance(contents, list) else []:
            if not isinstance(content, dict):
                continue
            texts: list[str] = []
            images: list[bytes] = []
            for part in content.get("parts") or []:
                if "text" in part:
                    texts.append(str(part["text"]))
                blob = part.get("inlineData") or part.get("inline_data")
                if isinstance(blob, dict):
                    images.append(decode_blob(blob.get("data", "")))
            out.append((str(content.get("role") or "user"), texts, images))
        return out


@dataclass
class _Script:
    kind: str
    remaining: int | None  # None = forever
    model: str | None
    retry_after: float | None


def png_bytes(colour: tuple[int, int, int] = (200, 80, 40), size: int = 32) -> bytes:
    """A small real PNG."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


class FakeGemini:
    """The fake server. ``await start()``, use ``base_url``, ``await stop()``."""

    def __init__(
        self,
        *,
        text_latency: float = 0.0,
        image_latency: float = 0.0,
        api_keys: Iterable[str] | None = None,
        models: Iterable[str] = KNOWN_MODELS,
    ) -> None:
        self.text_latency = text_latency
        self.image_latency = image_latency
        # None: any key is accepted; else only these (others: 400 API_KEY_INVALID)
        self.api_keys = None if api_keys is None else frozenset(api_keys)
        self.models = set(models)
        self.requests: list[RecordedRequest] = []
        self.model_lookups: list[str] = []  # the models asked for by GET (models.get)
        self.in_flight = 0
        self.max_in_flight = 0
        self.image_png = png_bytes()
        self._encoded_image: tuple[bytes, bytes] | None = None
        self._scripts: list[_Script] = []
        self._matching: list[tuple[str, _Script]] = []
        self._storm: tuple[_Script, float] | None = None  # (the answer, until when)
        self._release = asyncio.Event()
        self.likeness_default = 90
        # when set, each image request is answered with the picture it returns
        self.image_png_factory: Callable[[], bytes] | None = None
        # when set, the latency of each generateContent request, in seconds (None: the kind's
        # text_latency / image_latency)
        self.latency_for: Callable[[RecordedRequest], float | None] | None = None
        self._likeness_scores: list[tuple[int, str]] = []
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def base_url(self) -> str:
        """The URL to give the SDK (``HttpOptions(base_url=...)`` / GEMINI_BASE_URL)."""
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{version}/models/{action}", self._handle)
        app.router.add_get("/{version}/models", self._list_models)
        app.router.add_get("/{version}/models/{model}", self._get_model)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._release.set()  # let hung handlers finish
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def reset(self) -> None:
        """Forget requests, scripts and the concurrency high-water mark; un-hang handlers."""
        self.requests.clear()
        self._scripts.clear()
        self._matching.clear()
        self._storm = None
        self._likeness_scores.clear()
        self.max_in_flight = self.in_flight
        self.latency_for = None
        self._release.set()
        self._release = asyncio.Event()

    def fail_next(
        self,
        kind: str,
        times: int | None = 1,
        model: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` requests (None = all) for ``model`` (None = any) with a
        failure of ``kind`` (one of FAILURE_KINDS). ``retry_after`` adds a Retry-After header
        to 429/503 answers."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        self._scripts.append(_Script(kind, times, model, retry_after))

    def storm(
        self,
        seconds: float,
        kind: str = "429",
        *,
        retry_after: float | None = 2.0,
        model: str | None = None,
    ) -> None:
        """For the next ``seconds``, answer every request for ``model`` (None = any) with a
        failure of ``kind`` (429 with ``Retry-After: 2`` by default), ahead of any script."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        self._storm = (_Script(kind, None, model, retry_after), time.monotonic() + seconds)

    @property
    def storming(self) -> bool:
        """Whether a storm is on."""
        return self._storm is not None and time.monotonic() < self._storm[1]

    def _storm_script(self, model: str) -> _Script | None:
        if self._storm is None:
            return None
        script, until = self._storm
        if time.monotonic() >= until:
            self._storm = None
            return None
        return script if script.model in (None, model) else None

    def score_next(self, *scores: int, reason: str = "scripted score") -> None:
        """Answer the next likeness checks with these scores, in order."""
        self._likeness_scores.extend((score, reason) for score in scores)

    @property
    def likeness_requests(self) -> list[RecordedRequest]:
        """The likeness checks received."""
        return [r for r in self.requests if is_likeness_request(r)]

    @property
    def image_requests(self) -> list[RecordedRequest]:
        """The image generation and edit requests received."""
        return [r for r in self.requests if r.kind == "image"]

    def _likeness_answer(self) -> dict[str, Any]:
        score, reason = (
            self._likeness_scores.pop(0)
            if self._likeness_scores
            else (self.likeness_default, "the same character")
        )
        return _text_answer(json.dumps({"score": score, "reason": reason}))

    def fail_matching(self, kind: str, contains: str) -> None:
        """Answer every request whose text contains ``contains`` with a failure of ``kind``
        (one of FAILURE_KINDS), whatever comes before or after it."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        self._matching.append((contains, _Script(kind, None, None, None)))

    def _take_matching(self, recorded: RecordedRequest) -> _Script | None:
        text = recorded.text
        return next((s for needle, s in self._matching if needle in text), None)

    def requests_for(self, model: str) -> list[RecordedRequest]:
        """The recorded requests for one model."""
        return [r for r in self.requests if r.model == model]

    def _take_script(self, model: str) -> _Script | None:
        for script in self._scripts:
            if script.model is not None and script.model != model:
                continue
            if script.remaining is not None:
                script.remaining -= 1
                if script.remaining <= 0:
                    self._scripts.remove(script)
            return script
        return None

    def _refuse_key(self, key: str | None) -> web.Response | None:
        """The answer to a missing or (with ``api_keys``) unknown key, as Google gives it."""
        if not key:
            return _error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers")
        if self.api_keys is not None and key not in self.api_keys:
            return _invalid_key(API_KEY_INVALID_MESSAGE)
        return None

    def _unknown_model(self, model: str, method: str) -> web.Response | None:
        if model in self.models:
            return None
        return _error(
            404,
            "NOT_FOUND",
            f"models/{model} is not found for API version v1beta, or is not supported for "
            f"{method}. Call ListModels to see the list of available models and their "
            "supported methods.",
        )

    async def _get_model(self, request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        if request.match_info["version"] != "v1beta":
            return _error(404, "NOT_FOUND", f"unknown version {request.match_info['version']}")
        self.model_lookups.append(model)
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        refused = self._refuse_key(key) or self._unknown_model(model, "get")
        if refused is not None:
            return refused
        return web.json_response(_model_resource(model))

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        refused = self._refuse_key(key)
        if refused is not None:
            return refused
        return web.json_response({"models": [_model_resource(m) for m in sorted(self.models)]})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        if request.match_info["version"] != "v1beta" or not action.endswith(":generateContent"):
            return _error(404, "NOT_FOUND", f"unknown method {action}")
        model = action.removesuffix(":generateContent")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "INVALID_ARGUMENT", "body is not JSON")
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        recorded = _record(model, body, key)
        self.requests.append(recorded)
        refused = self._refuse_key(key) or self._unknown_model(model, "generateContent")
        if refused is not None:
            return refused
        assert key is not None
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            latency = self.latency_for(recorded) if self.latency_for is not None else None
            if latency is None:
                latency = self.image_latency if recorded.kind == "image" else self.text_latency
            recorded.latency = max(0.0, latency)
            if latency > 0:
                await asyncio.sleep(latency)
            script = (
                self._storm_script(model)
                or self._take_matching(recorded)
                or self._take_script(model)
            )
            if script is not None:
                recorded.failure = script.kind
                return await self._failure(script, recorded, key)
            if recorded.kind == "image":
                png = self.image_png_factory() if self.image_png_factory else self.image_png
                return web.Response(body=self._image_body(png), content_type="application/json")
            if is_likeness_request(recorded):
                return web.json_response(self._likeness_answer())
            return web.json_response(_text_answer(_attributes_for(recorded)))
        finally:
            self.in_flight -= 1

    def _image_body(self, png: bytes) -> bytes:
        """The image answer's JSON, encoded once per picture: a real provider's time to encode
        its answer is part of its latency, so the fake's own must not add to it (it would
        count as the bot's in the latency benchmark)."""
        cached = self._encoded_image
        if cached is None or cached[0] is not png:
            cached = self._encoded_image = (png, json.dumps(_image_answer(png)).encode())
        return cached[1]

    async def _failure(
        self, script: _Script, recorded: RecordedRequest, key: str
    ) -> web.StreamResponse:
        headers = {"Retry-After": f"{script.retry_after:g}"} if script.retry_after else None
        kind = script.kind
        if kind == "hang":
            release = self._release
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), timeout=60)
            return _error(503, "UNAVAILABLE", "released after hanging")
        if kind == "429":
            return _error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", headers)
        if kind == "500":
            return _error(500, "INTERNAL", "An internal error has occurred.")
        if kind == "503":
            return _error(503, "UNAVAILABLE", "The model is overloaded.", headers)
        if kind == "invalid_key":  # worst case: a server that echoes the key back
            return _invalid_key(f"API key not valid: {key}")
        if kind == "blocked":
            return web.json_response(
                {"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": recorded.model}
            )
        if kind == "image_safety":
            return web.json_response({"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}]})
        if kind == "no_image":
            return web.json_response({"candidates": [{"finishReason": "NO_IMAGE", "index": 0}]})
        if kind == "text_only":
            return web.json_response(_text_answer("I can't draw that, but here is a story."))
        # bad_json: text that is not the schema, or for an image model image data that is
        # not base64 (the SDK fails to parse the response)
        if recorded.kind == "image":
            answer = _image_answer(b"")
            answer["candidates"][0]["content"]["parts"][0]["inlineData"]["data"] = "!!not b64!!"
            return web.json_response(answer)
        return web.json_response(_text_answer('{"this is": "not the attributes schema"'))


def is_likeness_request(recorded: RecordedRequest) -> bool:
    """Whether the request is a likeness check (two images compared by the text model)."""
    return recorded.kind == "text" and "Likeness check" in recorded.text


def _error(
    code: int, status: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message, "status": status}}
    return web.json_response(body, status=code, headers=headers)


def _invalid_key(message: str) -> web.Response:
    """HTTP 400 INVALID_ARGUMENT with the ErrorInfo reason API_KEY_INVALID, as Google answers
    a key that is not valid."""
    body = {
        "error": {
            "code": 400,
            "message": message,
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": message,
                },
            ],
        }
    }
    return web.json_response(body, status=400)


def _model_resource(model: str) -> dict[str, Any]:
    """A Model resource as ``models.get`` returns it."""
    image = "image" in model
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model.replace("-", " ").title(),
        "description": "A model of the fake Gemini API.",
        "inputTokenLimit": 32768 if image else 1048576,
        "outputTokenLimit": 32768 if image else 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
    }


def decode_blob(data: Any) -> bytes:
    """An inline image's bytes: the SDK sends URL-safe base64 (``-`` and ``_``), which the API
    accepts as well as the standard alphabet; anything else is ``b""``."""
    text = str(data or "")
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text.encode())
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _record(model: str, body: Any, key: str | None) -> RecordedRequest:
    recorded = RecordedRequest(
        model=model, body=body if isinstance(body, dict) else {}, api_key=key
    )
    contents = recorded.body.get("contents") or []
    for content in contents if isinstance(contents, list) else []:
        for part in content.get("parts") or [] if isinstance(content, dict) else []:
            if "text" in part:
                recorded.texts.append(str(part["text"]))
            blob = part.get("inlineData") or part.get("inline_data")
            if isinstance(blob, dict):
                recorded.images.append(decode_blob(blob.get("data", "")))
                recorded.image_mimes.append(str(blob.get("mimeType") or blob.get("mime_type")))
    config = recorded.body.get("generationConfig") or {}
    modalities = [str(m).upper() for m in config.get("responseModalities") or []]
    recorded.kind = "image" if "IMAGE" in modalities else "text"
    return recorded


def _image_answer(png: bytes) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "inlineData": {
                                "mimeType": "image/png",
                                "data": base64.b64encode(png).decode(),
                            }
                        }
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1290},
    }


def _text_answer(text: str) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
    }


def _field(text: str, label: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(f"{label}:"):
            value = line.split(":", 1)[1].strip()
            return None if value.startswith("(") else value
    return None


def _attributes_for(recorded: RecordedRequest) -> str:
    """An attributes document that echoes the description and style of the request."""
    text = recorded.text
    description = _field(text, "Description") or text[:200]
    style = _field(text, "Art style") or "realistic"
    return json.dumps(
        {
            "name": "Fake Nova",  # a model may ignore the given name: the caller overrides
            "age": 29,  # a number, as models sometimes answer
            "gender": "female",
            "occupation": "starship mechanic",
            "personality": ["curious", "stubborn", "kind"],
            "physical_traits": {"hair": "short silver", "eyes": "amber", "build": "wiry"},
            "clothing": "grease-stained flight suit",
            "background": f"Built from: {description}",
            "tags": ["Sci-Fi", "mechanic"],
            "image_prompt": f"[{style.split(' ')[0]}] portrait: {description}",
        }
    )
