"""The offline likeness scorer (a perceptual hash): the same image scores ~100, a slightly
changed copy high, an unrelated image low; and the Gemini judge's answer parsing."""

from __future__ import annotations

import io

import pytest
from google import genai
from PIL import Image, ImageDraw

from bot.config import ConfigError, Settings
from bot.providers.factory import build_likeness_judge
from bot.providers.gemini_likeness import GeminiLikenessJudge, parse_likeness
from bot.providers.likeness import OfflineLikenessJudge, hash_likeness
from bot.providers.offline import OfflineImageProvider
from bot.providers.retry import ProviderError


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _face(background: tuple[int, int, int], head: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (256, 256), background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((64, 40, 192, 180), fill=head)
    draw.rectangle((80, 180, 176, 256), fill=(40, 40, 120))
    return image


def _stripes() -> Image.Image:
    image = Image.new("RGB", (256, 256), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for x in range(0, 256, 32):
        draw.rectangle((x, 0, x + 15, 255), fill=(0, 0, 0))
    for y in range(0, 256, 64):
        draw.rectangle((0, y, 255, y + 20), fill=(90, 200, 30))
    return image


def test_the_same_image_scores_about_100() -> None:
    portrait = _png(_face((200, 180, 160), (240, 200, 170)))
    assert hash_likeness(portrait, portrait) >= 98


def test_a_recompressed_slightly_changed_copy_still_scores_high() -> None:
    original = _face((200, 180, 160), (240, 200, 170))
    changed = original.resize((300, 300)).convert("RGB")
    ImageDraw.Draw(changed).rectangle((10, 10, 30, 30), fill=(255, 0, 0))  # a small badge
    out = io.BytesIO()
    changed.save(out, format="JPEG", quality=70)
    assert hash_likeness(_png(original), out.getvalue()) >= 75


def test_an_unrelated_image_scores_low() -> None:
    portrait = _png(_face((200, 180, 160), (240, 200, 170)))
    assert hash_likeness(portrait, _png(_stripes())) < 40


def test_an_unreadable_image_scores_zero() -> None:
    assert hash_likeness(b"not an image", _png(_stripes())) == 0


async def test_offline_judge_scores_an_offline_edit_against_its_source() -> None:
    """Without a key the check works: an offline edit of the placeholder portrait stays alike
    enough, an unrelated picture does not."""
    images = OfflineImageProvider()
    portrait = await images.generate("portrait of Ada, a pilot", style="anime")
    edited = await images.edit(portrait.data, "image/png", "a scarf", style="anime")
    judge = OfflineLikenessJudge()
    alike = await judge.compare_likeness(portrait.data, edited.data)
    unrelated = await judge.compare_likeness(portrait.data, _png(_stripes()))
    assert alike.score > unrelated.score
    assert alike.model == unrelated.model == "offline-phash"


def test_the_gemini_answer_is_read_as_a_score() -> None:
    score = parse_likeness('{"score": 72, "reason": " same face "}', finish="STOP", model="m")
    assert (score.score, score.reason, score.model) == (72, "same face", "m")


@pytest.mark.parametrize("answer", ['{"score": 140, "reason": "x"}', '{"reason": "x"}', "72"])
def test_an_answer_outside_the_schema_is_an_invalid_response(answer: str) -> None:
    with pytest.raises(ProviderError) as caught:
        parse_likeness(answer, finish="STOP", model="m")
    assert caught.value.kind == "invalid_response"


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_judge_follows_the_settings() -> None:
    """Offline: the perceptual hash; with a key: the Gemini text model; 0: no check at all."""
    offline = build_likeness_judge(_settings(gemini_api_key=None), None)
    assert isinstance(offline, OfflineLikenessJudge)
    off = _settings(gemini_api_key=None, consistency_threshold=0)
    assert build_likeness_judge(off, None) is None
    client = genai.Client(api_key="test-key-0123456789")
    assert isinstance(
        build_likeness_judge(_settings(gemini_api_key="test-key-0123456789"), client),
        GeminiLikenessJudge,
    )
    with pytest.raises(ConfigError):
        build_likeness_judge(_settings(gemini_api_key="test-key-0123456789"), None)
