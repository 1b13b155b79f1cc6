"""Packing a member's export for Discord: the JSON and the images as one zip when it fits the
interaction's upload limit; otherwise the JSON with links (S3: presigned URLs that expire), or,
for local files (which no link reaches), the zip cut into parts that each fit, one message each.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.errors import InvalidInputError, StorageError
from bot.services.member_data.collect import MemberRows
from bot.storage.base import ExpiringLinks, ListingStorage, Storage

log = logging.getLogger(__name__)

JSON_NAME = "charbot-export.json"
ZIP_NAME = "charbot-export.zip"
EXPORT_LINK_SECONDS = 24 * 3600
"""How long the links of an export too large to upload work."""
MAX_PARTS = 10
"""At most this many messages of zip parts (local storage); images beyond are listed only."""
_ENTRY_OVERHEAD = 200  # local header + central directory entry, beside twice the name

Mode = Literal["zip", "links", "parts"]


class ExportTooLargeError(InvalidInputError):
    """Even the JSON (zipped) does not fit the upload limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            "Your data is too large to send here, even without the images.",
            reason_key="account.export_too_large",
            limit_mb=round(limit / 1048576, 1),
        )


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One file to upload (each in a message of its own)."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class ExportPackage:
    """What to send: the files, how the images travel, and when their links stop working."""

    mode: Mode
    files: tuple[ExportFile, ...]
    image_count: int
    row_count: int
    links_expire_at: datetime | None = None
    left_out: tuple[str, ...] = field(default=())


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=method)
    return out.getvalue()


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def image_file(key: str) -> str:
    """Where an image lies in the zip."""
    return f"images/{key}"


async def export_keys(storage: Storage, rows: MemberRows) -> list[str]:
    """The stored objects of the member: those their rows name, and everything stored under
    their characters' and scenes' folders (an image of a generation that never completed,
    say)."""
    keys = list(rows.image_keys)
    if isinstance(storage, ListingStorage):
        for folder in rows.folders:
            try:
                keys += await storage.list_keys(folder)
            except StorageError as exc:
                log.warning("could not list the stored objects of %s: %s", folder, exc)
    return list(dict.fromkeys(keys))


async def _read(storage: Storage, key: str) -> bytes | None:
    try:
        return await storage.get(key)
    except StorageError as exc:
        log.warning("export: could not read %s: %s", key, exc)
        return None


async def _links(
    storage: ExpiringLinks, rows: MemberRows, keys: list[str], limit: int, now: datetime
) -> ExportPackage:
    expires = now + timedelta(seconds=EXPORT_LINK_SECONDS)
    images = [
        {
            "key": key,
            "url": await storage.temporary_url(key, EXPORT_LINK_SECONDS),
            "expires_at": expires.isoformat(),
        }
        for key in keys
    ]
    document = {**rows.document(now), "images": images}
    data = _zip([(JSON_NAME, _json(document))])
    if len(data) > limit:
        raise ExportTooLargeError(limit)
    return ExportPackage(
        "links", (ExportFile(ZIP_NAME, data),), len(keys), rows.row_count, links_expire_at=expires
    )


def _cost(key: str, data: bytes) -> int:
    return len(data) + 2 * len(image_file(key)) + _ENTRY_OVERHEAD


def _parts(
    rows: MemberRows, found: dict[str, bytes], unreadable: list[str], limit: int, now: datetime
) -> ExportPackage:
    """Images packed greedily into parts under ``limit``; part 1 also holds the JSON, which
    says where each image is."""
    placed: dict[str, int] = {}
    sizes: list[int] = [0]
    left_out: list[str] = []
    # part 1 keeps room for the JSON with every image's entry (compressed, it is smaller)
    listed = [{"key": k, "file": image_file(k), "part": MAX_PARTS} for k in [*found, *unreadable]]
    reserve = len(_json({**rows.document(now), "images": listed})) + 64 * len(listed) + 512
    sizes[0] = reserve
    for key, data in found.items():
        cost = _cost(key, data)
        part = next((i for i, used in enumerate(sizes) if used + cost <= limit), None)
        if part is None and len(sizes) < MAX_PARTS and cost <= limit:
            sizes.append(0)
            part = len(sizes) - 1
        if part is None:
            left_out.append(key)
            continue
        sizes[part] += cost
        placed[key] = part
    images: list[dict[str, Any]] = [
        {"key": key, "file": image_file(key), "part": placed[key] + 1} for key in placed
    ]
    images += [{"key": key, "left_out": "too large to send here"} for key in left_out]
    images += [{"key": key, "left_out": "could not be read"} for key in unreadable]
    document = {**rows.document(now), "images": images}
    files: list[ExportFile] = []
    for index in range(len(sizes)):
        entries = [(JSON_NAME, _json(document))] if index == 0 else []
        entries += [(image_file(k), found[k]) for k, p in placed.items() if p == index]
        name = ZIP_NAME if len(sizes) == 1 else f"charbot-export-part{index + 1}.zip"
        data = _zip(entries)
        if len(data) > limit:  # pragma: no cover - the reserve covers the JSON's growth
            raise ExportTooLargeError(limit)
        files.append(ExportFile(name, data))
    mode: Mode = "zip" if len(files) == 1 else "parts"
    return ExportPackage(mode, tuple(files), len(placed), rows.row_count, left_out=tuple(left_out))


async def package_export(
    storage: Storage, rows: MemberRows, limit: int, now: datetime | None = None
) -> ExportPackage:
    """The files of a member's export under the upload ``limit`` (bytes).

    Raises: ExportTooLargeError ("account.export_too_large"), StorageError (signing links).
    """
    current = now or datetime.now(UTC)
    keys = await export_keys(storage, rows)
    linking = storage if isinstance(storage, ExpiringLinks) else None
    found: dict[str, bytes] = {}
    unreadable: list[str] = []
    total = 0
    for key in keys:
        data = await _read(storage, key)
        if data is None:
            unreadable.append(key)
            continue
        found[key] = data
        total += _cost(key, data)
        if linking is not None and total > limit:  # will not fit: stop reading, send links
            return await _links(linking, rows, keys, limit, current)
    images: list[dict[str, Any]] = [{"key": k, "file": image_file(k)} for k in found]
    images += [{"key": key, "left_out": "could not be read"} for key in unreadable]
    document = {**rows.document(current), "images": images}
    data = _zip([(JSON_NAME, _json(document)), *((image_file(k), v) for k, v in found.items())])
    if len(data) <= limit:
        return ExportPackage("zip", (ExportFile(ZIP_NAME, data),), len(found), rows.row_count)
    if linking is not None:
        return await _links(linking, rows, keys, limit, current)
    return _parts(rows, found, unreadable, limit, current)
