"""What an imported ``.charx`` (a zip from anyone) may be, checked from the zip's directory
before a byte of any entry is inflated: its size, how many entries, how far they inflate (in
total, each, and by ratio), and where they claim to live (no absolute paths, no ``..``, no
symlinks, no encryption, no duplicates).

Reading an entry afterwards is bounded again by its declared size: Python's ``zipfile`` stops
at the declared size and checks the CRC, so a lying header cannot inflate past the checks.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib

from bot.errors import InvalidInputError

MAX_CHARX_BYTES = 25 * 1024 * 1024
"""The ``.charx`` file itself (PNG and JSON cards keep ``MAX_CARD_BYTES``)."""
MAX_ENTRIES = 1000
MAX_TOTAL_BYTES = 64 * 1024 * 1024
"""All entries together, inflated."""
MAX_ENTRY_BYTES = 16 * 1024 * 1024
"""One entry, inflated."""
MAX_RATIO = 100
"""How far an entry may inflate (uncompressed ÷ compressed), once past ``RATIO_FLOOR``."""
RATIO_FLOOR = 1024 * 1024
MAX_ASSET_BYTES = 10 * 1024 * 1024
"""One image asset (the limit of a reference image)."""
MAX_PATH = 512
MAX_DIRECTORY_BYTES = 1024 * 1024
"""The zip's central directory (~120 bytes an entry; 1,000 entries with long names fit)."""
MAX_IMAGE_TOTAL = 64 * 1024 * 1024
"""All the images one card may bring, together (also bounds a PNG naming itself many times)."""

_EOCD = b"PK\x05\x06"
_EOCD_SIZE, _LOCATOR_SIZE, _EOCD64_SIZE = 22, 20, 56


def refused(reason_key: str, detail: str) -> InvalidInputError:
    """A ``.charx`` refused (``reason_key``: an ``invalid.charx.*`` key), ``detail`` in English."""
    return InvalidInputError(f"That .charx file was refused: {detail}.", reason_key=reason_key)


def too_large(size: int, limit: int) -> InvalidInputError:
    """A card file over its size limit."""
    return InvalidInputError(
        f"That card is {size / 1048576:.1f} MB; the limit is {limit // 1048576} MB.",
        reason_key="invalid.card.too_large",
        max_mb=limit // 1048576,
    )


def images_too_large() -> InvalidInputError:
    """A card whose images add up past ``MAX_IMAGE_TOTAL``."""
    limit = MAX_IMAGE_TOTAL // 1048576
    return InvalidInputError(
        f"The card's images add up to more than {limit} MB.",
        reason_key="invalid.card.images_too_large",
        max_mb=limit,
    )


def safe_path(name: str) -> bool:
    """A relative, forward-slash path with no empty, ``.`` or ``..`` part and no drive."""
    if not name or len(name) > MAX_PATH or "\\" in name or "\0" in name:
        return False
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return False
    parts = name.rstrip("/").split("/")
    return all(part not in ("", ".", "..") for part in parts)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _directory(data: bytes) -> tuple[int, int] | None:
    """The entry count and central-directory size the zip's end records declare (zip64 too),
    or None when there is no end record."""
    at = data.rfind(_EOCD, max(0, len(data) - _EOCD_SIZE - 0xFFFF))
    if at < 0 or len(data) - at < _EOCD_SIZE:
        return None
    entries, size = struct.unpack("<HI", data[at + 10 : at + 16])
    locator = at - _LOCATOR_SIZE
    if locator >= _EOCD64_SIZE and data[locator : locator + 4] == b"PK\x06\x07":
        record = data[locator - _EOCD64_SIZE : locator]
        if record[:4] == b"PK\x06\x06":
            entries, size = struct.unpack("<QQ", record[32:48])
    return entries, size


def check_directory(data: bytes) -> None:
    """Refuse a zip whose end record declares too many entries or too large a directory,
    before ``zipfile`` builds an object for each of them.

    Raises:
        InvalidInputError: ``invalid.card.too_large`` or ``invalid.charx.too_many_entries``.
    """
    if len(data) > MAX_CHARX_BYTES:
        raise too_large(len(data), MAX_CHARX_BYTES)
    declared = _directory(data)
    if declared is not None and (declared[0] > MAX_ENTRIES or declared[1] > MAX_DIRECTORY_BYTES):
        raise refused(
            "invalid.charx.too_many_entries", f"{declared[0]} entries (at most {MAX_ENTRIES})"
        )


def check_archive(archive: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """The archive's files by name, when every limit holds.

    Raises:
        InvalidInputError: ``invalid.card.too_large``, or ``invalid.charx.`` + one of
            ``too_many_entries``, ``unsafe_path``, ``encrypted``, ``too_big_inflated``.
    """
    if size > MAX_CHARX_BYTES:
        raise too_large(size, MAX_CHARX_BYTES)
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise refused(
            "invalid.charx.too_many_entries", f"{len(infos)} entries (at most {MAX_ENTRIES})"
        )
    files: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        if not safe_path(info.filename) or _is_symlink(info) or info.filename in files:
            raise refused(
                "invalid.charx.unsafe_path", "an entry's path leaves the archive or repeats"
            )
        if info.flag_bits & 0x1:
            raise refused("invalid.charx.encrypted", "an entry is encrypted")
        if info.is_dir():
            continue
        total += info.file_size
        inflates = info.file_size > RATIO_FLOOR and (
            info.file_size > MAX_RATIO * max(info.compress_size, 1)
        )
        if info.file_size > MAX_ENTRY_BYTES or total > MAX_TOTAL_BYTES or inflates:
            raise refused("invalid.charx.too_big_inflated", "it would inflate too far")
        files[info.filename] = info
    return files


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """An entry's bytes, never more than ``limit`` (nor than its declared size).

    Raises:
        InvalidInputError: ``invalid.charx.too_big_inflated`` or ``invalid.charx.damaged``.
    """
    if info.file_size > limit:
        raise refused("invalid.charx.too_big_inflated", "an entry is too large")
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
    ) as exc:
        raise refused("invalid.charx.damaged", "an entry could not be read") from exc
    if len(data) > limit:
        raise refused("invalid.charx.too_big_inflated", "an entry is too large")
    return data
