"""Gemini providers through the real google-genai SDK against FakeGemini; offline providers."""

from __future__ import annotations

import io
import logging

import pytest
import pytest_asyncio
from google import genai
from google.genai import types
from PIL import Image

from bot.config import ConfigError, Settings
from bot.errors import GenerationError
from bot.providers.factory import build_providers, gemini_session, make_genai_client
from bot.providers.gemini import GeminiImageProvider, GeminiPromptOptimizer
from bot.providers.gemini_attributes import attributes_schema
from bot.providers.gemini_describe import GeminiTextModel
from bot.providers.offline import STYLES, OfflineImageProvider, OfflinePromptOptimizer
from bot.providers.retry import ProviderError, RetryPolicy, with_retries
from tests.fakes.gemini_server import FakeGemini, png_bytes

KEY = "AIzaFAKE-test-key-0123456789abcdefghijk"
TEXT_MODEL = "gemini-2.5-flash"
IMAGE_MODEL = "gemini-2.5-flash-image"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _settings(base_url: str | None, key: str | None = KEY) -> Settings:
    return Settings(_env_file=None, gemini_api_key=key, gemini_base_url=base_url)  # type: ignore[call-arg]


@pytest_asyncio.fixture(scope="module")
async def fake():
    server = FakeGemini()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module")
async def client(fake):
    settings = _settings(fake.base_url)
    session = gemini_session(settings)  # the bot's: see test_gemini_goes_through_the_proxy...
    gclient = make_genai_client(settings, session)
    yield gclient
    await gclient.aio.aclose()
    gclient.close()
    await session.close()


@pytest.fixture(autouse=True)
def _fresh_fake(fake):
    fake.reset()
    fake.text_latency = fake.image_latency = 0.0


def _optimizer(client, *, timeout=5.0, max_retries=2):
    return GeminiPromptOptimizer(
        client, TEXT_MODEL, timeout=timeout, max_retries=max_retries, backoff_base=0.001
    )


def _text_model(client, *, timeout=5.0, max_retries=2):
    return GeminiTextModel(
        client, TEXT_MODEL, timeout=timeout, max_retries=max_retries, backoff_base=0.001
    )


def _images(client, *, timeout=5.0, max_retries=2, model=IMAGE_MODEL):
    return GeminiImageProvider(
        client, model, timeout=timeout, max_retries=max_retries, backoff_base=0.001
    )


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- prompt optimiser -------------------------------------------------------------------


async def test_optimize_returns_attributes_and_sends_description(fake, client):
    """optimize() returns the model's attributes and the description reaches the text model."""
    result = await _optimizer(client).optimize("a grumpy mechanic on Mars", style="anime")

    assert result.model == TEXT_MODEL
    assert result.attributes.name == "Fake Nova"
    assert result.attributes.age == "29"
    assert result.attributes.personality == ["curious", "stubborn", "kind"]
    assert result.attributes.physical_traits == {
        "hair": "short silver",
        "eyes": "amber",
        "build": "wiry",
    }
    assert result.attributes.tags == ["sci-fi", "mechanic"]
    assert result.attributes.background == "Built from: a grumpy mechanic on Mars"
    assert result.prompt == "[anime] portrait: a grumpy mechanic on Mars"
    [request] = fake.requests
    assert request.model == TEXT_MODEL
    assert request.api_key == KEY
    assert "Description: a grumpy mechanic on Mars" in request.text
    config = request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "image_prompt" in config["responseSchema"]["properties"]
    assert "responseModalities" not in config


async def test_requests_after_the_first_send_the_same_schema_and_settings(fake, client):
    """The config's objects are given to the SDK without a copy: the SDK leaves them as they
    were, so every request carries the whole response schema and its own filter's settings."""
    schema = attributes_schema()
    assert isinstance(schema, types.Schema)
    schema_before = schema.model_dump()
    optimizer = _optimizer(client)
    for level in ("strict", "relaxed", "strict"):
        await optimizer.optimize("Nova", style="anime", content_filter=level)

    first, second, third = fake.requests
    assert first.body["generationConfig"] == third.body["generationConfig"]
    assert (
        first.body["generationConfig"]["responseSchema"]
        == second.body["generationConfig"]["responseSchema"]
    )
    assert first.body["systemInstruction"] == third.body["systemInstruction"]
    assert {s["threshold"] for s in first.body["safetySettings"]} == {"BLOCK_LOW_AND_ABOVE"}
    assert {s["threshold"] for s in second.body["safetySettings"]} == {"BLOCK_ONLY_HIGH"}
    assert first.body["safetySettings"] == third.body["safetySettings"]
    assert schema.model_dump() == schema_before


async def test_optimize_given_name_gender_age_override_the_model(fake, client):
    """A member's given name, gender and age win over what the model answered."""
    result = await _optimizer(client).optimize(
        "a knight", style="fantasy", name="Bob", gender="male", age="40"
    )

    assert (result.attributes.name, result.attributes.gender, result.attributes.age) == (
        "Bob",
        "male",
        "40",
    )
    assert "Name: Bob" in fake.requests[0].text


@pytest.mark.parametrize(
    ("failure", "kind"),
    [("bad_json", "invalid_response"), ("blocked", "blocked"), ("invalid_key", "invalid_response")],
)
async def test_optimize_failures_map_to_generation_errors(fake, client, failure, kind):
    """Unusable text-model answers become the matching GenerationError, without retries."""
    fake.fail_next(failure)

    with pytest.raises(GenerationError) as caught:
        await _optimizer(client).optimize("a bard", style="cartoon")

    assert caught.value.kind == kind
    assert not caught.value.retryable
    assert len(fake.requests) == 1


# --- image provider ---------------------------------------------------------------------


async def test_generate_returns_png_and_asks_for_image_modality(fake, client):
    """generate() returns the fake's PNG and requests the IMAGE modality with prompt + style."""
    result = await _images(client).generate("a portrait of Nova", style="cyberpunk")

    assert result.data == fake.image_png
    assert result.data.startswith(PNG_MAGIC)
    assert result.mime_type == "image/png"
    assert result.model == IMAGE_MODEL
    assert _decode(result.data).size == (32, 32)
    [request] = fake.requests
    assert request.kind == "image"
    assert request.body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert "a portrait of Nova" in request.text
    assert "cyberpunk" in request.text
    assert request.images == []


async def test_generate_sends_reference_image_bytes(fake, client):
    """A reference image travels as an inline part, byte for byte."""
    reference = png_bytes((1, 2, 3), size=20)

    await _images(client).generate(
        "Nova", style="anime", reference=reference, reference_mime="image/png"
    )

    [request] = fake.requests
    assert request.images == [reference]
    assert request.image_mimes == ["image/png"]


async def test_edit_sends_current_image_and_instruction(fake, client):
    """edit() sends the current image as inline data plus the instruction text."""
    current = png_bytes((9, 9, 9), size=24)

    result = await _images(client).edit(current, "image/png", "make them smile", style="vintage")

    assert result.data == fake.image_png
    [request] = fake.requests
    assert request.images == [current]
    assert "make them smile" in request.text
    assert request.body["generationConfig"]["responseModalities"] == ["IMAGE"]


async def test_older_image_models_ask_for_text_and_image(fake, client):
    """A 2.0 image model is asked for TEXT+IMAGE, which it needs."""
    model = "gemini-2.0-flash-preview-image-generation"

    await _images(client, model=model).generate("Nova", style="anime")

    assert fake.requests[0].model == model
    assert fake.requests[0].body["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        ("blocked", "blocked"),
        ("image_safety", "safety"),
        ("no_image", "no_image"),
        ("text_only", "no_image"),
        ("bad_json", "invalid_response"),
        ("invalid_key", "invalid_response"),
    ],
)
async def test_image_failures_map_to_generation_errors(fake, client, failure, kind):
    """Each non-retryable failure of the image model maps to its GenerationError kind."""
    fake.fail_next(failure)

    with pytest.raises(GenerationError) as caught:
        await _images(client).generate("Nova", style="anime")

    assert caught.value.kind == kind
    assert not caught.value.retryable
    assert len(fake.requests) == 1


@pytest.mark.parametrize("failure", ["429", "500", "503"])
async def test_transient_failure_once_is_retried_to_success(fake, client, failure):
    """A single 429/500/503 is retried and the second attempt's image is returned."""
    fake.fail_next(failure, times=1)

    result = await _images(client).generate("Nova", style="anime")

    assert result.data == fake.image_png
    assert len(fake.requests) == 2
    assert [r.failure for r in fake.requests] == [failure, None]


@pytest.mark.parametrize(("failure", "kind"), [("429", "rate_limited"), ("500", "unavailable")])
async def test_persistent_failure_gives_up_after_max_retries(fake, client, failure, kind):
    """A failure that never clears ends as its kind after exactly max_retries + 1 attempts
    (the SDK's own retries do not multiply ours)."""
    fake.fail_next(failure, times=None)

    with pytest.raises(GenerationError) as caught:
        await _images(client, max_retries=3).generate("Nova", style="anime")

    assert caught.value.kind == kind
    assert caught.value.retryable
    assert len(fake.requests) == 4


async def test_retry_after_header_is_read_from_sdk_error(fake, client):
    """The Retry-After of a 429 reaches the retry loop as the error's hint."""
    fake.fail_next("429", retry_after=7)

    with pytest.raises(ProviderError) as caught:
        await _images(client, max_retries=0).generate("Nova", style="anime")

    assert caught.value.kind == "rate_limited"
    assert caught.value.retry_after == 7.0


async def test_hang_becomes_timeout_without_retry(fake, client):
    """A model that never answers within the timeout fails as 'timeout', tried once."""
    fake.fail_next("hang", times=None)

    with pytest.raises(GenerationError) as caught:
        await _images(client, timeout=0.5, max_retries=2).generate("Nova", style="anime")

    assert caught.value.kind == "timeout"
    assert not caught.value.retryable
    assert len(fake.requests) == 1


async def test_api_key_never_in_error_text_or_logs(fake, client, caplog):
    """Even when the server echoes the key back, no error text or log line contains it."""
    caplog.set_level(logging.DEBUG)
    fake.fail_next("invalid_key")
    fake.fail_next("429", times=None)
    provider = _images(client, max_retries=1)

    errors = []
    for _ in range(2):
        with pytest.raises(GenerationError) as caught:
            await provider.generate("Nova", style="anime")
        errors.append(caught.value)

    assert fake.requests[0].api_key == KEY
    assert "API key not valid" in errors[0].detail
    for err in errors:
        assert KEY not in f"{err} {err.detail} {err!r} {err.args}"
        assert err.__cause__ is None
    assert KEY not in caplog.text
    assert "retry 1/1" in caplog.text


@pytest.mark.parametrize(
    ("level", "threshold"),
    [
        ("strict", "BLOCK_LOW_AND_ABOVE"),
        ("moderate", "BLOCK_MEDIUM_AND_ABOVE"),
        ("relaxed", "BLOCK_ONLY_HIGH"),
    ],
)
async def test_content_filter_level_sets_safety_thresholds(fake, client, level, threshold):
    """The member's content filter level becomes the threshold of every harm category."""
    await _images(client).generate("Nova", style="anime", content_filter=level)
    await _optimizer(client).optimize("Nova", style="anime", content_filter=level)

    for request in fake.requests:
        settings = request.body["safetySettings"]
        assert {s["category"] for s in settings} == {
            "HARM_CATEGORY_HARASSMENT",
            "HARM_CATEGORY_HATE_SPEECH",
            "HARM_CATEGORY_SEXUALLY_EXPLICIT",
            "HARM_CATEGORY_DANGEROUS_CONTENT",
        }
        assert {s["threshold"] for s in settings} == {threshold}


async def test_fake_counts_concurrent_requests(fake, client):
    """Concurrent generations overlap at the fake, which records the concurrency it saw."""
    import asyncio

    fake.image_latency = 0.2
    provider = _images(client)

    await asyncio.gather(*(provider.generate(f"Nova {i}", style="anime") for i in range(3)))

    assert fake.max_in_flight == 3
    assert fake.in_flight == 0


async def test_fake_latency_per_request(fake, client):
    """A latency hook decides each request's delay from the request itself (None: the kind's
    latency), and every request records the latency it was given."""
    import time

    fake.image_latency = 0.05
    fake.latency_for = lambda r: 0.3 if "slow" in r.text else None
    provider = _images(client)

    start = time.monotonic()
    await provider.generate("a slow Nova", style="anime")
    slow = time.monotonic() - start
    start = time.monotonic()
    await provider.generate("a quick Nova", style="anime")
    quick = time.monotonic() - start

    assert [r.latency for r in fake.requests] == [0.3, 0.05]
    assert slow >= 0.3 > quick
    fake.reset()
    assert fake.latency_for is None


# --- retry policy -----------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_cap():
    """Waits double per retry, jittered within [50%, 100%], and never pass max_backoff."""
    policy = RetryPolicy(max_retries=5, backoff_base=1.0, max_backoff=5.0)

    for _ in range(50):
        assert 0.5 <= policy.delay(0) <= 1.0
        assert 2.0 <= policy.delay(2) <= 4.0
        assert 2.5 <= policy.delay(3) <= 5.0
        assert 2.5 <= policy.delay(9) <= 5.0


async def test_retry_after_is_honoured_and_capped():
    """A server hint lengthens the wait, but no further than max_retry_after."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    hints = iter([5.0, 1000.0])

    async def attempt() -> str:
        hint = next(hints, None)
        if hint is None:
            return "ok"
        raise ProviderError("rate_limited", retryable=True, retry_after=hint)

    policy = RetryPolicy(max_retries=3, backoff_base=0.01, max_retry_after=60.0)
    assert await with_retries(attempt, policy, operation="test", sleep=sleep) == "ok"
    assert waits == [5.0, 60.0]


# --- factory ----------------------------------------------------------------------------


async def test_factory_picks_offline_without_key_and_gemini_with_key(fake, client):
    """No key gives the offline providers; a key gives the Gemini ones on the given client."""
    offline = build_providers(_settings(None, key=None), None)
    online = build_providers(_settings(fake.base_url), client)

    assert isinstance(offline[0], OfflinePromptOptimizer)
    assert isinstance(offline[1], OfflineImageProvider)
    assert isinstance(online[0], GeminiPromptOptimizer)
    assert isinstance(online[1], GeminiImageProvider)
    with pytest.raises(ConfigError):
        make_genai_client(_settings(None, key=None))
    with pytest.raises(ConfigError):
        build_providers(_settings(fake.base_url), None)
    assert isinstance(client, genai.Client)


# --- offline providers ------------------------------------------------------------------


async def test_offline_optimizer_reads_attributes_from_description():
    """Rule-based attributes: gender, age, occupation, personality, clothing, traits, tags."""
    result = await OfflinePromptOptimizer().optimize(
        "A brave and witty 32 year old woman detective with red hair and green eyes, "
        "wearing a long trench coat",
        style="vintage",
    )
    attrs = result.attributes

    assert attrs.gender == "female"
    assert attrs.age == "32"
    assert attrs.occupation == "detective"
    assert attrs.personality == ["brave", "witty"]
    assert attrs.clothing == "a long trench coat"
    assert attrs.physical_traits == {"hair": "red", "eyes": "green"}
    assert attrs.tags == ["vintage", "detective", "female"]
    assert attrs.name
    assert result.model == "offline"
    assert f"portrait of {attrs.name}" in result.prompt
    assert "trench coat" in result.prompt


async def test_offline_optimizer_is_deterministic_and_respects_given_values():
    """The same description gives the same name; a given name/gender/age is kept."""
    optimizer = OfflinePromptOptimizer()
    first = await optimizer.optimize("a quiet librarian", style="anime")
    second = await optimizer.optimize("a quiet librarian", style="anime")
    given = await optimizer.optimize(
        "a quiet librarian", style="anime", name="Ilse", gender="female", age="70"
    )

    assert first == second
    assert (given.attributes.name, given.attributes.gender, given.attributes.age) == (
        "Ilse",
        "female",
        "70",
    )


async def test_offline_image_is_deterministic_png_with_style_palette():
    """Offline portraits are 768×768 PNGs, identical for identical inputs, coloured per style."""
    provider = OfflineImageProvider()
    prompt = "portrait of Nova, a pilot"

    images = {style: await provider.generate(prompt, style=style) for style in STYLES}
    again = await provider.generate(prompt, style="anime")

    assert again.data == images["anime"].data
    corners = set()
    for style, result in images.items():
        assert result.mime_type == "image/png"
        decoded = _decode(result.data)
        assert decoded.format == "PNG"
        assert decoded.size == (768, 768)
        corner = decoded.convert("RGB").getpixel((0, 0))
        assert corner == STYLES[style].top
        corners.add(corner)
    assert len(corners) == len(STYLES)


async def test_offline_reference_and_edit_change_the_image_deterministically():
    """A reference is pasted in; an edit overlays the instruction, the same way every time."""
    provider = OfflineImageProvider()
    plain = await provider.generate("portrait of Nova", style="fantasy")
    with_ref = await provider.generate(
        "portrait of Nova", style="fantasy", reference=png_bytes((0, 255, 0), size=64)
    )
    edited = await provider.edit(plain.data, "image/png", "make them smile", style="fantasy")
    edited_again = await provider.edit(plain.data, "image/png", "make them smile", style="fantasy")

    assert with_ref.data != plain.data
    assert _decode(with_ref.data).convert("RGB").getpixel((768 - 60, 60)) == (0, 255, 0)
    assert edited.data == edited_again.data
    assert edited.data != plain.data
    assert _decode(edited.data).size == (768, 768)
    broken = await provider.edit(b"not an image", "image/png", "add a hat", style="anime")
    assert _decode(broken.data).size == (768, 768)


async def test_unreachable_server_is_unavailable_after_bounded_retries():
    """A refused connection maps to a retryable 'unavailable', with no SDK-side extra retries."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gclient = make_genai_client(_settings(f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(GenerationError) as caught:
            await _images(gclient, max_retries=1).generate("Nova", style="anime")
    finally:
        await gclient.aio.aclose()
        gclient.close()

    assert caught.value.kind == "unavailable"
    assert caught.value.retryable
    assert KEY not in f"{caught.value} {caught.value.detail}"


async def test_each_retry_waits_at_the_retry_gate(fake, client):
    """A retried request passes the retry gate (the shared request budget) once per retry."""
    passes: list[int] = []

    async def gate() -> None:
        passes.append(len(fake.requests))

    images = GeminiImageProvider(
        client, IMAGE_MODEL, timeout=5.0, max_retries=3, backoff_base=0.001, retry_gate=gate
    )
    fake.fail_next("429", times=2)
    result = await images.generate("a castle", style="fantasy")
    assert result.data.startswith(b"\x89PNG")
    assert len(fake.requests) == 3
    assert passes == [1, 2]  # before the 2nd and the 3rd request, never before the 1st


async def test_offline_attributes_take_the_name_occupation_and_clothing_from_the_words():
    """The offline builder reads "named X", a known occupation and a clothing noun."""
    result = await OfflinePromptOptimizer().optimize(
        "a cheerful baker named Rosa with flour on her apron", style="cartoon"
    )
    attributes = result.attributes
    assert attributes.name == "Rosa"
    assert attributes.occupation == "baker"
    assert attributes.clothing is not None
    assert "apron" in attributes.clothing
    assert "Rosa" in result.prompt


# --- describe: a picture read into a character --------------------------------------------


async def test_gemini_describe_sends_the_picture_and_reads_the_attributes(fake, client):
    """describe() is a text request (JSON, the description schema) carrying the picture; the
    answer becomes attributes, a description and a known style; the filter is sent."""
    picture = png_bytes((10, 120, 200), size=24)
    result = await _text_model(client).describe(picture, "image/png", content_filter="strict")
    [request] = fake.requests
    assert request.kind == "text"
    assert request.images == [picture]
    assert request.image_mimes == ["image/png"]
    config = request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "style" in str(config.get("responseSchema") or config.get("responseJsonSchema"))
    assert {s["threshold"] for s in request.body["safetySettings"]} == {"BLOCK_LOW_AND_ABOVE"}
    assert result.attributes.name == "Fake Nova"
    assert result.attributes.personality == ["curious", "stubborn", "kind"]
    assert result.description
    assert result.style in STYLES
    assert result.model == TEXT_MODEL


async def test_gemini_describe_refused_picture_is_a_generation_error(fake, client):
    """A picture the model blocks fails as a GenerationError, like any text request."""
    fake.fail_next("blocked")
    with pytest.raises(GenerationError):
        await _text_model(client, max_retries=0).describe(png_bytes(), "image/png")


async def test_offline_describe_reads_the_pictures_colours_deterministically():
    """Offline, the picture's dominant colours name the character and pick its style; the
    same picture always reads the same; an unreadable one still gives a character."""
    optimizer = OfflinePromptOptimizer()
    pink = png_bytes((235, 140, 180), size=32)
    first = await optimizer.describe(pink, "image/png")
    again = await optimizer.describe(pink, "image/png")
    assert first == again
    assert first.attributes.name == "Rosa"
    assert first.style == "anime"
    assert "pink" in first.description
    assert first.model == "offline"
    other = await optimizer.describe(png_bytes((20, 20, 20), size=32), "image/png")
    assert (other.attributes.name, other.style) == ("Raven", "cyberpunk")
    broken = await optimizer.describe(b"not a picture", "image/png")
    assert broken.attributes.name
    assert broken.style in STYLES


_PROXY_VARIABLES = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


async def _optimize_through(session, settings, description: str):
    """One prompt optimisation by a client on ``session`` (all closed after)."""
    gclient = make_genai_client(settings, session)
    try:
        return await _optimizer(gclient).optimize(description, style="vintage")
    finally:
        await gclient.aio.aclose()
        gclient.close()
        await session.close()


async def test_gemini_goes_through_the_proxy_the_environment_named_at_start(fake, monkeypatch):
    """The proxy variables are read once, when the bot opens its Gemini session: a Gemini
    host only the proxy reaches is answered through it, after the variables are gone."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fake.base_url)  # the fake answers the proxied requests
    settings = _settings("http://gemini.invalid")
    session = gemini_session(settings)
    monkeypatch.delenv("HTTP_PROXY")
    result = await _optimize_through(session, settings, "a lamplighter at dusk")
    assert result.prompt
    assert "a lamplighter at dusk" in fake.requests[-1].text


async def test_no_proxy_keeps_gemini_requests_direct(fake, monkeypatch):
    """A Gemini host NO_PROXY lists is reached directly, though a proxy is named (here one
    that refuses every connection)."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    settings = _settings(fake.base_url)
    result = await _optimize_through(gemini_session(settings), settings, "a bell founder")
    assert result.prompt
    assert "a bell founder" in fake.requests[-1].text
