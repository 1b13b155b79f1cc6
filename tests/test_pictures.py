"""Which picture a card shows for a row's stored URL and keys, on real local storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import pictures
from bot.storage.local import LocalStorage
from bot.storage.pictures import Picture, is_presigned, picture_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 16
SIGNED = "https://b.s3.amazonaws.com/k.png?X-Amz-Date=20200101T000000Z&X-Amz-Signature=ab"


@pytest.fixture
async def storage(tmp_path: Path) -> LocalStorage:
    store = LocalStorage(tmp_path / "images")
    await store.put("c/1.png", PNG, "image/png")
    await store.put("c/1_thumb.webp", WEBP, "image/webp")
    return store


def test_presigned_urls_are_recognised() -> None:
    """SigV4 and SigV2 query signatures expire; a plain URL does not."""
    assert is_presigned(SIGNED)
    assert is_presigned("https://h/k?AWSAccessKeyId=a&Expires=1&Signature=s")
    assert not is_presigned("https://cdn.example/characters/1.png")
    assert not is_presigned("https://cdn.example/characters/1.png?v=2")


async def test_a_plain_web_url_is_shown_as_stored(storage: LocalStorage) -> None:
    """A public URL (a CDN, the web front end's) wins over attaching the file."""
    url = "https://cdn.example/1.png"
    assert await picture_of(storage, "c/1.png", None, url, name="p") == Picture(url=url)


async def test_local_files_are_attached_image_first_or_thumbnail_when_small(
    storage: LocalStorage,
) -> None:
    """A file:// or presigned stored URL: the file is attached under ``name`` and its own
    extension; ``small`` attaches the thumbnail."""
    big = await picture_of(storage, "c/1.png", "c/1_thumb.webp", "file:///x/1.png", name="p")
    assert big == Picture(url="attachment://p.png", filename="p.png", data=PNG)
    small = await picture_of(storage, "c/1.png", "c/1_thumb.webp", SIGNED, name="c2", small=True)
    assert small == Picture(url="attachment://c2.webp", filename="c2.webp", data=WEBP)


async def test_an_oversized_image_falls_back_to_its_thumbnail(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image past the attachment budget is replaced by its thumbnail."""
    monkeypatch.setattr(pictures, "MAX_ATTACHED_BYTES", len(PNG) - 1)
    found = await picture_of(storage, "c/1.png", "c/1_thumb.webp", None, name="p")
    assert found is not None
    assert found.data == WEBP


async def test_missing_files_fall_back_to_a_web_url_else_nothing(storage: LocalStorage) -> None:
    """A missing file: the stored web URL even when presigned, else no picture."""
    assert await picture_of(storage, "c/gone.png", None, SIGNED, name="p") == Picture(url=SIGNED)
    assert await picture_of(storage, "c/gone.png", None, "file:///gone", name="p") is None
    assert await picture_of(storage, None, None, None, name="p") is None
