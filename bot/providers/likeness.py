"""The likeness check without a key: a perceptual hash (difference and average hash, Pillow
only) of both images, their agreement read as a 0-100 score. Same image ~100, unrelated
images around chance (~50) or below."""

from __future__ import annotations

import asyncio
import io

from PIL import Image, UnidentifiedImageError

from bot.providers.base import LikenessScore

HASH_SIDE = 16
"""The hashes are taken on a HASH_SIDE×HASH_SIDE greyscale thumbnail (256 bits each)."""
OFFLINE_LIKENESS_MODEL = "offline-phash"


def _grey(data: bytes, width: int, height: int) -> list[int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            small = image.convert("L").resize((width, height), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return list(small.getdata())


def perceptual_hash(data: bytes) -> tuple[int, ...] | None:
    """The image's difference hash then average hash, as bits; None when it cannot be read."""
    wide = _grey(data, HASH_SIDE + 1, HASH_SIDE)
    square = _grey(data, HASH_SIDE, HASH_SIDE)
    if wide is None or square is None:
        return None
    row = HASH_SIDE + 1
    difference = [
        int(wide[y * row + x] > wide[y * row + x + 1])
        for y in range(HASH_SIDE)
        for x in range(HASH_SIDE)
    ]
    mean = sum(square) / len(square)
    average = [int(value > mean) for value in square]
    return (*difference, *average)


def hash_likeness(reference: bytes, image: bytes) -> int:
    """0-100: the share of perceptual-hash bits the two images agree on, with chance (half)
    mapped to 0. An image that cannot be read scores 0."""
    first, second = perceptual_hash(reference), perceptual_hash(image)
    if first is None or second is None:
        return 0
    agree = sum(a == b for a, b in zip(first, second, strict=True)) / len(first)
    return max(0, min(100, round((agree - 0.5) * 200)))


class OfflineLikenessJudge:
    """Scores likeness with a perceptual hash, off the event loop. Never fails."""

    async def compare_likeness(
        self,
        reference: bytes,
        image: bytes,
        *,
        reference_mime: str = "image/png",
        image_mime: str = "image/png",
    ) -> LikenessScore:
        """The hash agreement of the two images."""
        del reference_mime, image_mime
        score = await asyncio.to_thread(hash_likeness, reference, image)
        return LikenessScore(
            score=score, reason="perceptual hash comparison", model=OFFLINE_LIKENESS_MODEL
        )
