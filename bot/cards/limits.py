"""What an imported ``.charx`` (a zip from anyone) may be, checked from the zip's directory
before a byte of any entry is inflated: its size, how many entries, how far they inflate (in
total, each, and by ratio), and where they claim to live (no absolute paths, no ``..``, no
symlinks, no encryption, no duplicates).

Reading an entry afterwards is bounded again by its declared size: Python's ``zipfile`` stops
at the declared size and checks the CRC, so a lying header cannot inflate past the checks.
"""

from __future__ import annotations

import stat
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
