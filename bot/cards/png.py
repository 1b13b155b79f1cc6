"""Cards in PNGs: write a portrait with the card in a ``chara`` text chunk, and read the text
chunks (tEXt, zTXt, iTXt) of an untrusted PNG back, bounded and checked. CPU work, for
``asyncio.to_thread``."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from typing import Any

from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from bot.cards.model import MAX_CARD_BYTES, MAX_IMAGE_SIDE, bad_image, bad_json
from bot.errors import InvalidInputError
from bot.storage.images import png_dimensions

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_PNG_MODES = frozenset({"1", "L", "LA", "I;16", "I;16B", "P", "RGB", "RGBA"})
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def _png_ready(img: Image.Image) -> Image.Image:
    """The first frame, upright, in a mode PNG stores (kept when it already is one)."""
    img = ImageOps.exif_transpose(img)
    if img.mode in _PNG_MODES:
        return img
    if img.mode in {"I", "F"}:  # 32-bit greyscale: PNG's deepest is 16-bit
        return img.convert("I").convert("I;16")
    alpha = "A" in img.getbands() or "a" in img.mode
    return img.convert("RGBA" if alpha else "RGB")


def card_png(card: dict[str, Any], portrait: bytes, *, v3: dict[str, Any] | None = None) -> bytes:
    """``portrait`` re-encoded as PNG with one tEXt chunk ``chara`` = base64 of the card's JSON
    (and, given ``v3``, a ``ccv3`` chunk of that card, which V3 readers prefer).

    Any image mode PNG can store is kept; other text chunks (old cards included) are dropped.

    Raises:
        InvalidInputError: the portrait is not a decodable image (``invalid.image.not_image``).
    """
    info = PngInfo()
    for keyword, content in (("chara", card), ("ccv3", v3)):
        if content is not None:
            payload = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
            info.add_text(keyword, base64.b64encode(payload.encode("utf-8")).decode("ascii"))
    try:
        with Image.open(io.BytesIO(portrait)) as img:
            if img.width * img.height > (Image.MAX_IMAGE_PIXELS or 1 << 40):
                raise Image.DecompressionBombError("too many pixels")
            ready = _png_ready(img)
            out = io.BytesIO()
            ready.save(out, format="PNG", pnginfo=info)
    except DECODE_ERRORS as exc:
        raise InvalidInputError(
            "The portrait is not a readable image.", reason_key="invalid.image.not_image"
        ) from exc
    return out.getvalue()


class _InflateError(Exception):
    """A compressed text chunk would inflate past the card size limit."""


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_CARD_BYTES)
    if inflater.unconsumed_tail:
        raise _InflateError
    return out


def chunk_text(kind: bytes, body: bytes) -> str:
    """The text of a tEXt, zTXt or iTXt chunk (``body`` starts after its keyword's NUL).

    Raises:
        InvalidInputError: ``invalid.card.bad_json`` when it can't be decoded.
    """
    try:
        if kind == b"tEXt":
            return body.decode("latin-1")
        if kind == b"zTXt":
            return _inflate(body[1:]).decode("latin-1")
        compressed = body[:1] == b"\x01"
        _lang, _, rest = body[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return (_inflate(text) if compressed else text).decode("utf-8")
    except (UnicodeDecodeError, zlib.error, _InflateError) as exc:
        raise bad_json("unreadable text chunk") from exc


def read_png(data: bytes) -> tuple[dict[str, tuple[bytes, bytes]], bytes]:
    """The raw text chunks ``(type, body after the keyword)`` by lower-cased keyword (first
    wins), and the PNG without its text chunks."""
    texts: dict[str, tuple[bytes, bytes]] = {}
    kept = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    try:
        while True:
            (length,) = struct.unpack(">I", data[pos : pos + 4])
            kind = data[pos + 4 : pos + 8]
            end = pos + 12 + length
            if end > len(data):
                raise bad_image()
            if kind in _TEXT_CHUNKS:
                keyword, _, body = data[pos + 8 : end - 4].partition(b"\0")
                texts.setdefault(keyword.decode("latin-1").lower(), (kind, body))
            else:
                kept.append(data[pos:end])
            pos = end
            if kind == b"IEND":
                break
    except struct.error as exc:  # ran off the end: no IEND
        raise bad_image() from exc
    return texts, b"".join(kept)


def check_image(png: bytes) -> None:
    try:
        width, height = png_dimensions(png)
        limit = min(MAX_IMAGE_SIDE**2, Image.MAX_IMAGE_PIXELS or 1 << 40)
        if max(width, height) > MAX_IMAGE_SIDE or width * height > limit or min(width, height) < 1:
            raise bad_image()
        with Image.open(io.BytesIO(png), formats=["PNG"]) as img:
            img.load()
    except (*DECODE_ERRORS, struct.error) as exc:
        raise bad_image() from exc
