"""The storage protocol: where images and thumbnails live (S3 or local files)."""

from __future__ import annotations

from typing import Protocol


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
