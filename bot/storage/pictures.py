"""Pictures as a message shows them: a link Discord can fetch, or the stored file to attach.

For a row (a character or a variant) with its stored URL and its storage keys, in this order:

1. a stored http(s) URL that is not presigned (a public bucket, a CDN, the web front end's) is
   shown as it is;
2. else, with a storage key: a storage that links its objects (S3) gives a fresh link (its public
   URL, or a URL presigned now: a stored presigned URL may have expired); local files are read
   and attached (``attachment://<name>.<ext>``), the first that fits ``MAX_ATTACHED_BYTES``;
3. else a stored http(s) URL, whatever it is;
4. else nothing: the card is shown without a picture. A failure to read or sign is logged, never
   shown to the member (the card itself is still worth showing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

from bot.errors import StorageError
from bot.storage.base import Storage
from bot.storage.images import EXTENSIONS, sniff_image
from db.meta import Meta

log = logging.getLogger(__name__)

#: The largest file attached for one picture: Discord's upload limit is 10 MiB a file for a
#: server without boosts (and 25 MiB for a whole message); a bigger image falls back to its
#: thumbnail.
MAX_ATTACHED_BYTES = 8 * 1024 * 1024

_SIGNATURE_PARAMS = frozenset({"x-amz-signature", "signature"})


@runtime_checkable
class LinkingStorage(Protocol):
    """A storage that gives a URL for a stored key (S3: public, or presigned when asked)."""

    async def url(self, key: str) -> str:
        """A URL a browser (or Discord) can fetch now. Raises: StorageError."""
        ...


class Pictured(Protocol):
    """A row with a picture: a character or a variant."""

    @property
    def image_url(self) -> str | None: ...

    @property
    def thumbnail_url(self) -> str | None: ...

    @property
    def meta(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class Picture:
    """What an embed points at (``url``), and the file to attach when it is ``attachment://``."""

    url: str
    filename: str | None = None
    data: bytes | None = None


def is_web_url(url: str | None) -> bool:
    """Whether Discord can fetch ``url`` itself (http or https)."""
    return bool(url) and str(url).lower().startswith(("http://", "https://"))


def is_presigned(url: str) -> bool:
    """Whether ``url`` carries a signature in its query (SigV4 or SigV2): it expires."""
    query = urlsplit(url).query
    return any(name.lower() in _SIGNATURE_PARAMS for name, _ in parse_qsl(query))


def _filename(name: str, key: str, data: bytes) -> str:
    mime = sniff_image(data)
    if mime is not None:
        ext = EXTENSIONS[mime]
    else:
        tail = key.rsplit("/", 1)[-1]
        ext = tail.rsplit(".", 1)[-1].lower() if "." in tail else "png"
        ext = ext if ext.isalnum() and len(ext) <= 8 else "png"
    return f"{name}.{ext}"


async def _linked(storage: LinkingStorage, key: str) -> Picture | None:
    try:
        return Picture(url=await storage.url(key))
    except StorageError:
        log.warning("could not link stored picture %s", key, exc_info=True)
        return None


async def _attached(storage: Storage, keys: list[str], name: str) -> Picture | None:
    for key in keys:
        try:
            data = await storage.get(key)
        except StorageError as exc:
            log.warning("could not read stored picture %s: %s", key, exc)
            continue
        if not data or len(data) > MAX_ATTACHED_BYTES:
            continue
        filename = _filename(name, key, data)
        return Picture(url=f"attachment://{filename}", filename=filename, data=data)
    return None


async def picture_of(
    storage: Storage,
    image_key: str | None,
    thumbnail_key: str | None,
    stored_url: str | None,
    *,
    name: str,
    small: bool = False,
) -> Picture | None:
    """The picture for these keys and stored URL (see the module's order); ``name`` is the
    attachment's file name without its extension (distinct within one message), ``small``
    attaches the thumbnail before the image (a page of several cards)."""
    if stored_url and is_web_url(stored_url) and not is_presigned(stored_url):
        return Picture(url=stored_url)
    found: Picture | None = None
    if isinstance(storage, LinkingStorage):
        key = image_key or thumbnail_key
        if key:
            found = await _linked(storage, key)
    else:
        keys = [k for k in (image_key, thumbnail_key) if k]
        found = await _attached(storage, keys[::-1] if small else keys, name)
    if found is not None:
        return found
    if stored_url and is_web_url(stored_url):
        return Picture(url=stored_url)
    return None


async def picture(
    storage: Storage, row: Pictured, *, name: str, small: bool = False
) -> Picture | None:
    """The picture of a character or variant: its image (its thumbnail when ``small`` and the
    file is attached), see :func:`picture_of`."""
    meta = Meta(row.meta)
    return await picture_of(
        storage,
        meta.image_key,
        meta.thumbnail_key,
        row.image_url or row.thumbnail_url,
        name=name,
        small=small,
    )
