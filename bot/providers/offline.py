"""Offline providers, used when no GEMINI_API_KEY is set.

A rule-based builder reads attributes out of the description, and Pillow draws a clearly
labelled placeholder portrait in the style's palette. Same inputs give the same bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from PIL import Image, ImageDraw, ImageFont

from bot.providers.base import (
    CharacterAttributes,
    EditTurn,
    ImageResult,
    PromptResult,
    SceneReference,
)
from bot.providers.scene_art import draw_scene

OFFLINE_MODEL = "offline"
SIZE = 768


RGB = tuple[int, int, int]


@dataclass(frozen=True)
class _Style:
    look: str
    top: RGB
    bottom: RGB
    figure: RGB
    accent: RGB
    text: RGB

    @classmethod
    def of(cls, look: str, colours: str) -> _Style:
        """``colours``: five hex colours (top, bottom, figure, accent, text)."""
        top, bottom, figure, accent, text = (
            (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)) for h in colours.split()
        )
        return cls(look, top, bottom, figure, accent, text)


STYLES: Mapping[str, _Style] = MappingProxyType(
    {
        "realistic": _Style.of(
            "photorealistic portrait, soft studio lighting", "788491 343a42 221e1c c4aa8c f5f5f5"
        ),
        "anime": _Style.of(
            "anime illustration, clean line art, cel shading", "ffb7d5 96c4ff 4a3c7a fff078 1e143c"
        ),
        "cartoon": _Style.of(
            "cartoon style, bold outlines, flat bright colours",
            "ffd640 ff8030 285ac8 ffffff 141414",
        ),
        "fantasy": _Style.of(
            "fantasy painting, dramatic lighting, painterly detail",
            "2e543c 121e30 5a286e e8c45c faf0d2",
        ),
        "cyberpunk": _Style.of(
            "cyberpunk art, neon lighting, rain-slick city", "140828 040410 ff00aa 00f0ff e6ffff"
        ),
        "vintage": _Style.of(
            "vintage portrait, film grain, sepia tones", "dec8a0 967652 523a28 faecce 322214"
        ),
        "minimalist": _Style.of(
            "minimalist illustration, simple shapes, negative space",
            "f8f8f6 e8e8e4 282828 dc3c32 1e1e1e",
        ),
    }
)


def _seq(words: str) -> tuple[str, ...]:
    return tuple(words.split())


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_NAMES = {
    "female": _seq("Aria Mira Lena Sora Elise Nadia Yuki Freya Iris Talia"),
    "male": _seq("Kai Rowan Dorian Taro Felix Marcus Leo Ansel Ravi Soren"),
    "any": _seq("Quinn Riley Ash Sage Rin Morgan Ember Wren Jules Nico"),
}
_GENDER_WORDS = {
    "female": _set(
        "woman girl female she her lady queen princess witch mother sister daughter heroine "
        "priestess actress waitress"
    ),
    "male": _set(
        "man boy male he his him gentleman king prince guy father brother son hero wizard monk lord"
    ),
    "non-binary": _set("non-binary nonbinary enby androgynous genderless"),
}
_AGE_WORDS = (
    ("elderly", "elderly"),
    ("old", "elderly"),
    ("teenage", "teen"),
    ("teenager", "teen"),
    ("teen", "teen"),
    ("child", "child"),
    ("kid", "child"),
    ("young", "young adult"),
    ("adult", "adult"),
)
_OCCUPATIONS = _set(
    "knight wizard mage sorcerer witch detective pirate hacker doctor nurse soldier samurai "
    "ninja engineer scientist teacher chef artist musician singer thief assassin merchant pilot "
    "warrior archer bard priest priestess student farmer princess prince queen king ranger "
    "mercenary librarian inventor alchemist captain explorer hunter monk paladin healer "
    "blacksmith spy idol writer journalist astronaut baker tailor gardener sailor courier "
    "painter poet dancer cook barista fisher miner guard shepherd innkeeper"
)
_PERSONALITY = _set(
    "brave kind shy cheerful grumpy curious loyal clever witty calm fierce gentle mysterious "
    "playful proud stubborn cunning honest cold warm serious reckless wise quiet bold sarcastic "
    "optimistic melancholic ambitious caring confident energetic stoic"
)
_DEFAULT_PERSONALITY = ("curious", "determined", "kind", "witty", "calm", "bold")
_CLOTHING_NOUNS = _seq(
    "coat cloak armor armour dress jacket hoodie kimono robes robe suit uniform gown cape vest "
    "shirt scarf hat boots apron sweater overalls tunic armour"
)
_BUILD_WORDS = ("tall", "short", "muscular", "slender", "petite", "stocky", "lanky", "broad")
_FILLER_WORDS = frozenset({"with", "and", "a", "an", "the", "has", "have", "her", "his", "their"})
_WORD = re.compile(r"[a-z][a-z'-]*")
_NAMED = re.compile(r"\b(?:named|called)\s+([A-Z][\w'-]{1,40}(?:\s+[A-Z][\w'-]{1,40})?)")
_WEARING = re.compile(r"\b(?:wearing|wears|dressed in|clad in)\s+([^,.;!?]+)", re.IGNORECASE)
_AGE_NUMBER = re.compile(r"\b(\d{1,3})\s*(?:-|\s)?(?:years?|yrs?|yo)\b|\baged?\s+(\d{1,3})\b", re.I)


def _seed(*parts: str | bytes) -> int:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\x00")
    return int.from_bytes(digest.digest()[:8], "big")


def _find_gender(words: list[str]) -> str | None:
    counts = {g: sum(w in markers for w in words) for g, markers in _GENDER_WORDS.items()}
    best = max(counts, key=lambda g: counts[g])
    return best if counts[best] else None


def _find_age(text: str, words: list[str]) -> str | None:
    match = _AGE_NUMBER.search(text)
    if match:
        return match.group(1) or match.group(2)
    for word, age in _AGE_WORDS:
        if word in words:
            return age
    if "middle-aged" in text.lower():
        return "middle-aged"
    return None


def _find_clothing(text: str) -> str | None:
    match = _WEARING.search(text)
    if match:
        return match.group(1).strip()
    lowered = text.lower()
    for noun in _CLOTHING_NOUNS:
        found = re.search(rf"((?:[a-z'-]+\s+){{0,3}}){re.escape(noun)}\b", lowered)
        if found:
            return found.group(0).strip()
    return None


def _find_traits(text: str, words: list[str]) -> dict[str, str]:
    lowered = text.lower()
    traits: dict[str, str] = {}
    for key, pattern in (
        ("hair", r"([a-z-]+(?:\s[a-z-]+)?)\s+hair"),
        ("eyes", r"([a-z-]+)\s+eyes"),
    ):
        found = re.search(pattern, lowered)
        if found:
            kept = [w for w in found.group(1).split() if w not in _FILLER_WORDS]
            if kept:
                traits[key] = " ".join(kept)
    build = [w for w in _BUILD_WORDS if w in words]
    if build:
        traits["build"] = " ".join(build)
    return traits


class OfflinePromptOptimizer:
    """Rule-based attributes and prompt from the description; never calls a network service."""

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
        """Never fails: every attribute falls back to a deterministic default."""
        del content_filter  # nothing to filter offline
        words = _WORD.findall(description.lower())
        seed = _seed(description, style)
        gender = gender or _find_gender(words)
        age = age or _find_age(description, words)
        occupation = next((w for w in words if w in _OCCUPATIONS), None)
        personality = [w for w in dict.fromkeys(words) if w in _PERSONALITY][:6]
        if not personality:
            personality = random.Random(seed).sample(_DEFAULT_PERSONALITY, 3)
        pool = _NAMES.get(gender or "any", _NAMES["any"])
        named = _NAMED.search(description)
        chosen_name = (
            (name or "").strip() or (named.group(1) if named else "") or pool[seed % len(pool)]
        )
        clothing = _find_clothing(description)
        traits = _find_traits(description, words)
        look = STYLES.get(style, STYLES["realistic"]).look
        tags = list(dict.fromkeys(t for t in (style, occupation, gender) if t))
        attributes = CharacterAttributes(
            name=chosen_name[:100],
            age=age,
            gender=gender,
            occupation=occupation,
            personality=personality,
            physical_traits=traits,
            clothing=clothing,
            background=description.strip()[:1000] or None,
            tags=tags,
        )
        subject = " ".join(p for p in (age, gender, occupation) if p) or "character"
        pieces = [f"{look}: portrait of {chosen_name}, a {subject}"]
        pieces += [f"{value} {key}" for key, value in traits.items()]
        if clothing:
            pieces.append(f"wearing {clothing}")
        pieces.append(f"{', '.join(personality)} expression")
        pieces.append(description.strip()[:300])
        return PromptResult(attributes=attributes, prompt=", ".join(pieces), model=OFFLINE_MODEL)


class OfflineImageProvider:
    """Draws a labelled placeholder portrait (768×768 PNG) with Pillow, off the event loop."""

    async def generate(
        self,
        prompt: str,
        *,
        style: str,
        content_filter: str = "moderate",
        reference: bytes | None = None,
        reference_mime: str | None = None,
    ) -> ImageResult:
        """Never fails: an unreadable reference image is ignored."""
        del content_filter, reference_mime
        data = await asyncio.to_thread(_draw_portrait, prompt, style, reference)
        return ImageResult(data=data, mime_type="image/png", model=OFFLINE_MODEL)

    async def edit(
        self,
        image: bytes,
        mime_type: str,
        instruction: str,
        *,
        style: str,
        content_filter: str = "moderate",
        history: Sequence[EditTurn] = (),
    ) -> ImageResult:
        """Never fails: an unreadable source image is replaced by a fresh placeholder. (The
        placeholder draws on the source image, which already shows the earlier turns.)"""
        del mime_type, content_filter, history
        data = await asyncio.to_thread(_draw_edit, image, instruction, style)
        return ImageResult(data=data, mime_type="image/png", model=OFFLINE_MODEL)

    async def compose(
        self,
        prompt: str,
        references: Sequence[SceneReference],
        *,
        style: str,
        content_filter: str = "moderate",
    ) -> ImageResult:
        """Never fails: a labelled placeholder with the portraits side by side, in order."""
        del content_filter
        palette = STYLES.get(style, STYLES["realistic"])
        background = _png(_background(palette))
        colours = (palette.text, palette.accent, palette.bottom)
        data = await asyncio.to_thread(draw_scene, background, prompt, references, colours)
        return ImageResult(data=data, mime_type="image/png", model=OFFLINE_MODEL)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _name_from_prompt(prompt: str) -> str:
    match = re.search(r"portrait of ([^,]+)", prompt)
    return (match.group(1) if match else "Character").strip()[:40]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _background(style: _Style) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), style.top)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE):
        t = y / (SIZE - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(style.top, style.bottom, strict=True))
        draw.line([(0, y), (SIZE, y)], fill=colour)
    return image


def _draw_portrait(prompt: str, style_name: str, reference: bytes | None) -> bytes:
    style = STYLES.get(style_name, STYLES["realistic"])
    image = _background(style)
    draw = ImageDraw.Draw(image)
    rng = random.Random(_seed(prompt, style_name))
    for _ in range(14):  # scattered accents, placed by the prompt's hash
        x, y, r = rng.randrange(SIZE), rng.randrange(SIZE - 200), rng.randrange(4, 14)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=style.accent)
    cx = SIZE // 2
    draw.ellipse([cx - 190, 430, cx + 190, 820], fill=style.figure)  # shoulders
    draw.rectangle([cx - 45, 330, cx + 45, 470], fill=style.figure)  # neck
    draw.ellipse([cx - 110, 130, cx + 110, 370], fill=style.figure)  # head
    draw.ellipse([cx - 110, 130, cx + 110, 370], outline=style.accent, width=6)
    if reference:
        _paste_reference(image, reference, style)
    draw.rectangle([0, SIZE - 150, SIZE, SIZE], fill=style.bottom)
    draw.line([(0, SIZE - 150), (SIZE, SIZE - 150)], fill=style.accent, width=4)
    write = draw.text
    write((cx, SIZE - 105), _name_from_prompt(prompt), font=_font(44), fill=style.text, anchor="mm")
    write(
        (cx, SIZE - 45),
        f"offline placeholder · {style_name}",
        font=_font(26),
        fill=style.accent,
        anchor="mm",
    )
    return _png(image)


def _paste_reference(image: Image.Image, reference: bytes, style: _Style) -> None:
    try:
        with Image.open(io.BytesIO(reference)) as ref:
            thumb = ref.convert("RGB")
            thumb.thumbnail((150, 150))
    except (OSError, ValueError, Image.DecompressionBombError):
        return
    image.paste(thumb, (SIZE - thumb.width - 20, 20))
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        [SIZE - thumb.width - 22, 18, SIZE - 18, thumb.height + 22], outline=style.accent, width=3
    )
    write = draw.text
    write((SIZE - 20, thumb.height + 30), "reference", font=_font(18), fill=style.text, anchor="ra")


def _draw_edit(source: bytes, instruction: str, style_name: str) -> bytes:
    style = STYLES.get(style_name, STYLES["realistic"])
    try:
        with Image.open(io.BytesIO(source)) as opened:
            image = opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        image = _background(style)
    if image.size != (SIZE, SIZE):
        image = image.resize((SIZE, SIZE))
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    lines = textwrap.wrap(instruction.strip() or "(no instruction)", width=38)[:4]
    band = 70 + 38 * len(lines)
    ImageDraw.Draw(overlay).rectangle([0, 0, SIZE, band], fill=(*style.bottom, 215))
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    write = ImageDraw.Draw(image).text
    write((20, 16), "offline edit:", font=_font(26), fill=style.accent)
    for i, line in enumerate(lines):
        write((20, 56 + 38 * i), line, font=_font(30), fill=style.text)
    return _png(image)
