"""CHARX: a zip holding ``card.json`` (a V3 card) at its root and the images its
``embeded://`` URIs name (``assets/icon/images/…``, ``assets/other/images/…``). CPU work, for
``asyncio.to_thread``.

Reading trusts nothing: the zip's directory is checked by :mod:`bot.cards.limits` before any
entry is inflated, and only ``card.json`` and the entries its assets name are ever read.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from bot.cards.limits import (
    MAX_ASSET_BYTES,
    check_archive,
    check_directory,
    read_entry,
    refused,
)
from bot.cards.model import MAX_CARD_BYTES, not_a_card
from bot.cards.v3 import Resolver

CARD_FILE = "card.json"
ZIP_MAGIC = b"PK\x03\x04"


def write_charx(card: dict[str, Any], files: Mapping[str, bytes]) -> bytes:
    """The ``.charx`` of ``card`` and its asset files (images are stored, not re-compressed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        body = json.dumps(card, ensure_ascii=False, indent=2).encode("utf-8")
        archive.writestr(CARD_FILE, body, compress_type=zipfile.ZIP_DEFLATED)
        for path, data in files.items():
            archive.writestr(path, data, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def read_charx(data: bytes) -> tuple[bytes, Resolver]:
    """The raw ``card.json`` and a reader of the entries ``embeded://`` URIs name.

    Raises:
        InvalidInputError: ``invalid.card.too_large``, ``invalid.card.not_a_card`` (not a zip,
            no ``card.json``), or an ``invalid.charx.*`` refusal (see ``check_archive``).
    """
    check_directory(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise not_a_card("That .charx file is not a readable zip.") from exc
    try:
        files = check_archive(archive, len(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise refused("invalid.charx.damaged", "its directory is damaged") from exc
    info = files.get(CARD_FILE)
    if info is None:
        raise not_a_card("That .charx file has no card.json.")
    card = read_entry(archive, info, MAX_CARD_BYTES)

    read: dict[str, bytes] = {}  # an entry named by many assets is inflated once

    def resolve(path: str) -> bytes | None:
        entry = files.get(path)
        if entry is None:
            return None
        if path not in read:
            read[path] = read_entry(archive, entry, MAX_ASSET_BYTES)
        return read[path]

    return card, resolve
