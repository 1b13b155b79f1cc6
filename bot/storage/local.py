"""Local file storage under ``DATA_DIR/images``: for development and single-machine use.

URLs are ``file://`` URIs of the stored files. Discord cannot fetch them, so the bot uploads
the bytes as attachments instead, and the platform's web front end cannot show them at all:
deployments that share characters with the web front end need S3 (set S3_BUCKET).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from pathlib import Path

from bot.errors import StorageError


def safe_key_parts(key: str) -> tuple[str, ...]:
    """Split an object key into path segments, refusing anything that could leave the root.

    Raises:
        StorageError: the key is empty, absolute, or holds ``..``, ``.``, backslashes,
            NUL bytes or empty segments.
    """
    if not key or "\\" in key or "\x00" in key or key.startswith("/"):
        raise StorageError(f"unsafe storage key {key!r}")
    raw = key.split("/")
    if any(part in {"", ".", ".."} for part in raw):
        raise StorageError(f"unsafe storage key {key!r}")
    if any(len(part) >= 2 and part[1] == ":" for part in raw):  # a Windows drive ("C:")
        raise StorageError(f"unsafe storage key {key!r}")
    return tuple(raw)


class LocalStorage:
    """The Storage protocol on a directory; writes are atomic (temporary file + rename)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        """The directory objects are stored under."""
        return self._root

    def path_for(self, key: str) -> Path:
        """The file that holds ``key``.

        Raises:
            StorageError: the key is unsafe (see ``safe_key_parts``).
        """
        return self._root.joinpath(*safe_key_parts(key))

    def _resolved(self, key: str) -> Path:
        path = self.path_for(key)
        root = self._root.resolve()
        resolved = path.resolve()
        if not resolved.is_relative_to(root):  # a symlink inside the store points outside
            raise StorageError(f"storage key {key!r} resolves outside the store")
        return resolved

    def _write(self, key: str, data: bytes) -> str:
        self._root.mkdir(parents=True, exist_ok=True)
        path = self._resolved(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return path.as_uri()

    def _read(self, key: str) -> bytes:
        return self._resolved(key).read_bytes()

    def _delete(self, key: str) -> None:
        self._resolved(key).unlink(missing_ok=True)

    def _exists(self, key: str) -> bool:
        return self._resolved(key).is_file()

    def _list(self, prefix: str) -> list[str]:
        folder = self._resolved(prefix.rstrip("/"))
        if not folder.is_dir():
            return []
        root = self._root.resolve()
        return sorted(
            path.relative_to(root).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )

    async def list_keys(self, prefix: str) -> list[str]:
        """Every stored key under the folder ``prefix`` (``characters/<id>/``).

        Raises:
            StorageError: the prefix is unsafe or the folder unreadable.
        """
        try:
            return await asyncio.to_thread(self._list, prefix)
        except OSError as exc:
            raise StorageError(f"local list {prefix!r} failed: {exc}") from exc

    def _prune(self, prefix: str) -> None:
        folder = self._resolved(prefix.rstrip("/"))
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir():
                with contextlib.suppress(OSError):
                    path.rmdir()  # only when empty
        with contextlib.suppress(OSError):
            folder.rmdir()

    async def prune(self, prefix: str) -> None:
        """Remove the empty folders left under ``prefix`` (files stay where they are).

        Raises:
            StorageError: the prefix is unsafe.
        """
        try:
            await asyncio.to_thread(self._prune, prefix)
        except OSError as exc:
            raise StorageError(f"local prune {prefix!r} failed: {exc}") from exc

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Write the file atomically and return its ``file://`` URI (content type unused).

        Raises:
            StorageError: the key is unsafe or the write failed.
        """
        try:
            return await asyncio.to_thread(self._write, key, data)
        except OSError as exc:
            raise StorageError(f"local put {key!r} failed: {exc}") from exc

    async def get(self, key: str) -> bytes:
        """Read a stored file.

        Raises:
            StorageError: the key is unsafe or the file is missing or unreadable.
        """
        try:
            return await asyncio.to_thread(self._read, key)
        except OSError as exc:
            raise StorageError(f"local get {key!r} failed: {exc}") from exc

    async def delete(self, key: str) -> None:
        """Delete a stored file; a missing one is not an error.

        Raises:
            StorageError: the key is unsafe or the file could not be removed.
        """
        try:
            await asyncio.to_thread(self._delete, key)
        except OSError as exc:
            raise StorageError(f"local delete {key!r} failed: {exc}") from exc

    async def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key``.

        Raises:
            StorageError: the key is unsafe.
        """
        try:
            return await asyncio.to_thread(self._exists, key)
        except OSError as exc:
            raise StorageError(f"local exists {key!r} failed: {exc}") from exc
