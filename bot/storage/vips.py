"""Thumbnails through libvips (``pyvips`` with the ``pyvips-binary`` wheel), when it imports.

libvips decodes PNG with libspng and shrinks while it decodes (JPEG and WebP even decode at a
reduced scale), so a 1024² portrait's thumbnail costs less CPU than with Pillow and holds no
full-size copy of the bitmap (bench/generation). Where the wheel or libvips is missing,
``AVAILABLE`` is False and ``bot.storage.images`` uses Pillow as before.
"""

from __future__ import annotations

import logging

try:
    import pyvips
except (ImportError, OSError):  # no wheel for this platform, or no libvips to load
    pyvips = None
else:
    # No operation cache: it would keep recent portraits' buffers alive after their create.
    pyvips.cache_set_max(0)
    # One worker per operation: calls already run in several threads, one per create.
    pyvips.concurrency_set(1)
    # pyvips logs every call at DEBUG: keep that out of the bot's log
    logging.getLogger("pyvips").setLevel(logging.WARNING)

AVAILABLE = pyvips is not None


class UndecodableError(Exception):
    """libvips could not read the image."""


def thumbnail(data: bytes, size: int) -> bytes:
    """A WebP (quality 80, fastest effort, no metadata) whose longer side is ``size`` px, or
    the image's own when smaller: never enlarged, EXIF orientation applied, alpha kept, 8-bit
    sRGB whatever the source's depth or colour space.

    Raises:
        UndecodableError: the data is not an image libvips can read.
    """
    try:
        image = pyvips.Image.thumbnail_buffer(
            data, size, height=size, size="down", option_string="fail_on=truncated"
        )
        if image.format != "uchar" or image.interpretation not in ("srgb", "b-w"):
            image = image.colourspace("srgb")
        out: bytes = image.webpsave_buffer(Q=80, effort=0, keep="none")
    except pyvips.Error as exc:
        raise UndecodableError(str(exc)[:200]) from None
    return out
