"""Image checks, thumbnails and object keys.

Pillow's CPU work runs in a worker thread (``asyncio.to_thread``) so the event loop keeps
serving Discord. Untrusted images are sized from their header first, without Pillow, so a
decompression bomb is refused before anything is decoded and without touching Pillow's
process-wide ``Image.MAX_IMAGE_PIXELS``.
"""

from __future__ import annotations

import asyncio
import io
import re
import struct
import uuid
from types import MappingProxyType

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.errors import InvalidInputError
from bot.storage import vips

#: The formats a reference image may have, by MIME type, with the Pillow format name.
SUPPORTED_FORMATS = MappingProxyType(
    {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
)
#: File extensions for the supported MIME types.
EXTENSIONS = MappingProxyType(
    {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
)

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SAFE_EXT = re.compile(r"[a-z0-9]{1,8}")
_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error)


def sniff_image(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG, WebP or GIF by its magic bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def png_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, without decoding.

    Raises:
        ValueError: the data is not a PNG.
    """
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 24 or data[12:16] != b"IHDR":
        msg = "not a PNG"
        raise ValueError(msg)
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_STANDALONE:
            i += 2
            continue
        if marker in _JPEG_SOF:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + int(length)
    return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        (bits,) = struct.unpack("<I", data[21:25])
        return (int(bits) & 0x3FFF) + 1, ((int(bits) >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def header_dimensions(data: bytes, mime: str) -> tuple[int, int] | None:
    """The size an image's header claims, read without Pillow; None when unreadable."""
    try:
        if mime == "image/png":
            return png_dimensions(data)
        if mime == "image/gif" and len(data) >= 10:
            width, height = struct.unpack("<HH", data[6:10])
            return int(width), int(height)
        if mime == "image/jpeg":
            return _jpeg_dimensions(data)
        if mime == "image/webp":
            return _webp_dimensions(data)
    except (ValueError, struct.error):
        return None
    return None


def _not_image() -> InvalidInputError:
    return InvalidInputError(
        "That file is not a readable image. Upload a PNG, JPEG, WebP or GIF picture.",
        reason_key="invalid.image.not_image",
    )


def _check_size(width: int, height: int, max_side: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise InvalidInputError(
            f"That image claims {width}×{height} pixels, more than the {max_pixels} allowed.",
            reason_key="invalid.image.too_many_pixels",
            width=width,
            height=height,
            max_pixels=max_pixels,
        )
    if max(width, height) > max_side:
        raise InvalidInputError(
            f"That image is {width}×{height} pixels; each side may be at most {max_side}.",
            reason_key="invalid.image.dimensions_too_large",
            width=width,
            height=height,
            max_side=max_side,
        )
    if width < 1 or height < 1:
        raise _not_image()


def _unsupported(data: bytes) -> InvalidInputError:
    """Name the format of a real image we do not accept (BMP, TIFF ...), else 'not an image'."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or "unknown"
    except (*_DECODE_ERRORS, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _not_image()
    return InvalidInputError(
        f"{fmt} images are not supported. Upload a PNG, JPEG, WebP or GIF picture.",
        reason_key="invalid.image.unsupported_format",
        format=fmt,
    )


def _validate(data: bytes, max_side: int, max_pixels: int) -> str:
    mime = sniff_image(data)
    if mime is None:
        raise _unsupported(data)
    claimed = header_dimensions(data, mime)
    if claimed is not None:
        _check_size(*claimed, max_side, max_pixels)
    try:
        with Image.open(io.BytesIO(data), formats=[SUPPORTED_FORMATS[mime]]) as img:
            _check_size(*img.size, max_side, max_pixels)
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError(
            "That image is far too large to process.",
            reason_key="invalid.image.too_many_pixels",
            max_pixels=max_pixels,
        ) from exc
    except _DECODE_ERRORS as exc:
        raise _not_image() from exc
    return mime


async def validate_reference_image(
    data: bytes,
    *,
    max_bytes: int = 10 * 1024 * 1024,
    max_side: int = 4096,
    max_pixels: int | None = None,
) -> tuple[bytes, str]:
    """Check an uploaded reference image and return it unchanged with its MIME type.

    The size is checked first, then the header's dimensions (before any decoding, so a
    decompression bomb is refused), then the first frame is fully decoded to prove the file
    is real. ``max_pixels`` defaults to ``max_side²``, capped at Pillow's bomb threshold.

    Raises:
        InvalidInputError: reason_key ``invalid.image.too_large``, ``.not_image``,
            ``.unsupported_format``, ``.dimensions_too_large`` or ``.too_many_pixels``.
    """
    if len(data) > max_bytes:
        raise InvalidInputError(
            f"That image is {len(data) / 1048576:.1f} MB; the limit is "
            f"{max_bytes / 1048576:.0f} MB.",
            reason_key="invalid.image.too_large",
            size_mb=round(len(data) / 1048576, 1),
            max_mb=round(max_bytes / 1048576),
        )
    if not data:
        raise _not_image()
    limit = max_pixels if max_pixels is not None else max_side * max_side
    if Image.MAX_IMAGE_PIXELS is not None:
        limit = min(limit, Image.MAX_IMAGE_PIXELS)
    mime = await asyncio.to_thread(_validate, data, max_side, limit)
    return data, mime


def _thumbnail(data: bytes, size: int) -> bytes:
    # Our own images, but still refuse a bomb before decoding (Pillow's threshold, no side cap).
    pixel_limit = Image.MAX_IMAGE_PIXELS or 1 << 40
    side_limit = 1 << 20
    mime = sniff_image(data)
    claimed = header_dimensions(data, mime) if mime else None
    if claimed is not None:
        _check_size(*claimed, side_limit, pixel_limit)
    if vips.AVAILABLE and claimed is not None:
        try:
            return vips.thumbnail(data, size)
        except vips.UndecodableError as exc:
            raise _not_image() from exc
    return _thumbnail_pillow(data, size, side_limit, pixel_limit)


def _thumbnail_pillow(data: bytes, size: int, side_limit: int, pixel_limit: int) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as img:
            _check_size(*img.size, side_limit, pixel_limit)
            img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
            img.load()
            # in place: no copy of the full bitmap when there is nothing to turn
            ImageOps.exif_transpose(img, in_place=True)
            has_alpha = img.mode in {"RGBA", "LA", "PA"} or (
                img.mode == "P" and "transparency" in img.info
            )
            mode = "RGBA" if has_alpha else "RGB"
            converted = img if img.mode == mode else img.convert(mode)
            width, height = converted.size
            scale = min(1.0, size / max(width, height))  # never larger than the image itself
            target = (max(1, round(width * scale)), max(1, round(height * scale)))
            # reducing_gap: a cheap box reduction first, then Lanczos (a 1024 px portrait
            # costs ~40% less); WebP method 0 is the fastest encoder setting.
            thumb = converted.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError(
            "That image is far too large to process.", reason_key="invalid.image.too_many_pixels"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise _not_image() from exc
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80, method=0)
    return out.getvalue()


async def make_thumbnail(data: bytes, size: int = 256) -> bytes:
    """A WebP whose longer side is ``size`` px (or the image's own, when smaller: never
    enlarged): aspect kept, EXIF orientation applied, transparency kept.

    Raises:
        InvalidInputError: the data is not a decodable image (or is absurdly large).
    """
    if size < 1:
        msg = "size must be positive"
        raise ValueError(msg)
    return await asyncio.to_thread(_thumbnail, data, size)


def _check_id(character_id: str) -> str:
    if not _SAFE_ID.fullmatch(character_id):
        msg = f"unsafe character id for a storage key: {character_id!r}"
        raise ValueError(msg)
    return character_id


def _check_ext(ext: str) -> str:
    ext = ext.lower().lstrip(".")
    if not _SAFE_EXT.fullmatch(ext):
        msg = f"unsafe file extension: {ext!r}"
        raise ValueError(msg)
    return ext


def extension_for(mime: str) -> str:
    """The file extension for a supported image MIME type ("png" when unknown)."""
    return EXTENSIONS.get(mime, "png")


def image_key(character_id: str, ext: str = "png") -> str:
    """A fresh key ``characters/<id>/<uuid4>.<ext>`` for a character's image.

    Raises:
        ValueError: the id or extension could escape the key's folder.
    """
    return f"characters/{_check_id(character_id)}/{uuid.uuid4()}.{_check_ext(ext)}"


def thumbnail_key(image_key: str) -> str:
    """The thumbnail key beside an image key: ``<folder>/<uuid>_thumb.webp``."""
    folder, _, name = image_key.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{folder}/{stem}_thumb.webp" if folder else f"{stem}_thumb.webp"


def variant_key(character_id: str, variant_hint: str, ext: str = "png") -> str:
    """A fresh key ``characters/<id>/variants/<slug>-<uuid4>.<ext>`` for a variant image.

    ``variant_hint`` (a theme name, say) is reduced to a short lowercase ASCII slug.

    Raises:
        ValueError: the id or extension could escape the key's folder.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", variant_hint.lower()).strip("-")[:40].strip("-")
    name = f"{slug}-{uuid.uuid4()}" if slug else str(uuid.uuid4())
    return f"characters/{_check_id(character_id)}/variants/{name}.{_check_ext(ext)}"
