"""Storing a portrait: the image and its WebP thumbnail, under keys derived from one another.

The one store step of generation and of card import: every key is recorded in ``stored``
before its upload starts, so the caller's failure path can delete whatever may have landed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from bot.storage.base import Storage
from bot.storage.images import make_thumbnail, thumbnail_key

Timer = Callable[[str], AbstractContextManager[object]]
"""``timer(stage)`` times a block under ``stage`` ("thumbnail", "storage_put")."""


def _untimed(stage: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class StoredPortrait:
    """Where a stored image and its thumbnail live."""

    image_key: str
    thumbnail_key: str
    image_url: str
    thumbnail_url: str


async def put_tracked(
    storage: Storage,
    key: str,
    data: bytes,
    content_type: str,
    *,
    stored: list[str],
    timer: Timer = _untimed,
) -> str:
    """``storage.put``, with ``key`` recorded in ``stored`` first; returns the URL.

    Raises: StorageError.
    """
    stored.append(key)
    with timer("storage_put"):
        return await storage.put(key, data, content_type)


async def store_portrait(
    storage: Storage,
    key: str,
    data: bytes,
    mime_type: str,
    *,
    stored: list[str],
    timer: Timer = _untimed,
) -> StoredPortrait:
    """Store ``data`` under ``key`` and its thumbnail beside it; the image uploads while the
    thumbnail is drawn (in a thread). On any failure the upload still running is cancelled.

    Raises:
        InvalidInputError: ``data`` is not a decodable image. StorageError.
    """
    thumb_key = thumbnail_key(key)
    image_put = asyncio.ensure_future(
        put_tracked(storage, key, data, mime_type, stored=stored, timer=timer)
    )
    try:
        with timer("thumbnail"):
            thumb = await make_thumbnail(data)
        thumb_url = await put_tracked(
            storage, thumb_key, thumb, "image/webp", stored=stored, timer=timer
        )
        image_url = await image_put
    except BaseException:
        image_put.cancel()
        with contextlib.suppress(BaseException):
            await image_put
        raise
    return StoredPortrait(key, thumb_key, image_url, thumb_url)
