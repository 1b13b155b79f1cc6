"""Scenes at the providers: Gemini gets one request with the instruction, then each portrait
after its label, in order (through the real google-genai SDK against FakeGemini); offline
draws a labelled placeholder composed from the portraits, so scenes work without a key."""

from __future__ import annotations

import io

import pytest_asyncio
from PIL import Image

from bot.config import Settings
from bot.providers.base import SceneReference
from bot.providers.factory import make_genai_client
from bot.providers.gemini import GeminiImageProvider
from bot.providers.offline import OfflineImageProvider
from bot.providers.scene_art import SIZE
from tests.fakes.gemini_server import FakeGemini, png_bytes

KEY = "AIzaFAKE-test-key-0123456789abcdefghijk"
IMAGE_MODEL = "gemini-2.5-flash-image"
COLOURS = [(220, 20, 20), (20, 220, 20), (20, 20, 220)]


def _references() -> list[SceneReference]:
    return [
        SceneReference(name, png_bytes(colour, size=64))
        for name, colour in zip(("Aria", "Bram", "Cador"), COLOURS, strict=True)
    ]


@pytest_asyncio.fixture
async def fake():
    server = FakeGemini()
    await server.start()
    yield server
    await server.stop()


async def test_gemini_compose_sends_every_portrait_in_order_with_the_names(fake):
    settings = Settings(_env_file=None, gemini_api_key=KEY, gemini_base_url=fake.base_url)  # type: ignore[call-arg]
    client = make_genai_client(settings)
    try:
        provider = GeminiImageProvider(client, IMAGE_MODEL, timeout=5, max_retries=1)
        refs = _references()
        result = await provider.compose(
            "Setting: a tavern at night.", refs, style="fantasy", content_filter="strict"
        )
    finally:
        await client.aio.aclose()
        client.close()
    assert result.data.startswith(b"\x89PNG")
    (sent,) = fake.requests_for(IMAGE_MODEL)
    assert sent.kind == "image"
    assert sent.images == [r.image for r in refs]
    text = sent.text
    assert text.index("image 1: Aria") < text.index("image 2: Bram") < text.index("image 3: Cador")
    assert "recognisable" in text
    assert "a tavern at night" in text


async def test_offline_compose_draws_a_labelled_placeholder_from_the_portraits():
    provider = OfflineImageProvider()
    refs = _references()
    result = await provider.compose("Setting: a tavern at night.", refs, style="anime")
    again = await provider.compose("Setting: a tavern at night.", refs, style="anime")
    assert result.model == "offline"
    assert result.mime_type == "image/png"
    assert again.data == result.data  # deterministic
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.size == SIZE
        rgb = image.convert("RGB")
        # each portrait is pasted in order, left to right: its colour fills its tile's middle
        slot = SIZE[0] // len(refs)
        for index, colour in enumerate(COLOURS):
            assert rgb.getpixel((index * slot + slot // 2, 380)) == colour
