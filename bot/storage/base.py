"""The storage protocol: where images and thumbnails live (S3 or local files)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


class Storage(Protocol):
    """An object store addressed by keys such as ``characters/<id>/<uuid>.png``."""

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store ``data`` under ``key`` and return a URL a browser (or Discord) can fetch.

        Raises: StorageError.
        """
        ...

    async def get(self, key: str) -> bytes:
        """Read an object back. Raises: StorageError (missing or unreachable)."""
        ...

    async def delete(self, key: str) -> None:
        """Delete an object; deleting a missing key is not an error. Raises: StorageError."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...


@runtime_checkable
class ListingStorage(Protocol):
    """A storage that can list what it holds under a key prefix (S3 and local files can)."""

    async def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``. Raises: StorageError."""
        ...


@runtime_checkable
class PruningStorage(Protocol):
    """A storage with folders that can be left empty (local files): it removes them."""

    async def prune(self, prefix: str) -> None:
        """Remove the empty folders under ``prefix``. Raises: StorageError."""
        ...


@runtime_checkable
class ExpiringLinks(Protocol):
    """A storage that gives links which stop working after a while (S3's presigned URLs)."""

    async def temporary_url(self, key: str, seconds: int) -> str:
        """A URL of ``key`` valid for ``seconds`` (a public URL when the bucket is public).

        Raises: StorageError.
        """
        ...


async def delete_quietly(storage: Storage, keys: Iterable[str]) -> None:
    """Delete objects whose rows are gone (or were never made); a failure is logged, not
    raised, since the row side has already been settled."""
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            log.warning("could not delete stored object %s", key, exc_info=True)
