"""Character Card V3 (kwaroran/character-card-spec-v3): a character's card with its portrait
and every variant listed in ``data.assets``, and an imported card's assets read back as a
portrait and variants.

The portrait is the ``icon`` asset named ``main``; each variant is an ``other`` asset named
"<theme>: <instruction>" (unique within the card), which the charbot extension's variants name
in their ``asset`` field, so a re-import files each image under its theme with its full
instruction. Assets of other tools' cards are filed by their type.

URIs: ``ccdefault:`` (the PNG itself), ``data:`` (base64) and ``embeded://`` (a ``.charx``
entry; the spec's spelling) are read; links (``http(s)://``) are listed when exporting an
image that did not fit, and never fetched when importing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.cards.export import card_from_character
from bot.cards.limits import MAX_IMAGE_TOTAL, images_too_large
from bot.cards.model import (
    MAX_PROMPT,
    MAX_VARIANTS,
    SPEC_V3,
    SPEC_V3_VERSION,
    CardAsset,
    CardVariant,
    too_long,
)
from bot.storage.images import extension_for, sniff_image
from db.models import Character, CharacterTheme, ThemeVariant

CCDEFAULT = "ccdefault:"
EMBEDDED = "embeded://"
"""Spelled as the spec spells it (and as RisuAI and SillyTavern read it)."""
ICON_DIR, OTHER_DIR = "assets/icon/images", "assets/other/images"
MAX_ASSETS = 1000
MAX_ASSET_NAME = 200
BACKFILL_NOTE = (
    "This character card is Character Card V3, but it is loaded as a Character Card V2. "
    "Please use a Character Card V3 compatible application to use this character card properly."
)
"""The spec's words for the ``chara`` chunk written beside ``ccv3``."""
_THEME_OF_TYPE = {"emotion": "Expressions", "background": "Backgrounds", "icon": "Icons"}
FOREIGN_THEME = "Imported"
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*);base64,(.*)", re.S)
_LINK_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp", "gif"})

Packaging = Literal["png", "charx", "json"]
Resolver = Callable[[str], bytes | None]
"""An ``embeded://`` path → the entry's bytes (None when missing). May raise for a refused
entry."""


@dataclass(frozen=True)
class AssetImage:
    """A variant's image for a V3 card: its bytes to embed, or only its link."""

    variant_id: str
    data: bytes | None
    url: str | None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken or candidate == "main":
        candidate = f"{_clip(name, MAX_ASSET_NAME - 6)} ({n})"
        n += 1
    taken.add(candidate)
    return candidate


def _link_ext(url: str) -> str:
    ext = url.rsplit("?", 1)[0].rsplit(".", 1)[-1].lower()
    return ext if ext in _LINK_EXTENSIONS else "unknown"


def v3_card(
    character: Character,
    themes: list[CharacterTheme],
    variants: list[ThemeVariant],
    *,
    creator: str,
    portrait: bytes | None,
    images: list[AssetImage],
    packaging: Packaging,
    created: int,
    modified: int,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The V3 card, and the files (path in the ``.charx`` → bytes) its ``embeded://`` URIs
    name (empty unless ``packaging`` is ``charx``).

    A ``png`` card's portrait is ``ccdefault:`` (the PNG itself); a ``json`` one embeds it as
    a ``data:`` URL. Images without bytes are linked; those with neither are left out.
    """
    theme_names = {t.id: t.name for t in themes}
    by_id = {v.id: v for v in variants if v.theme_id in theme_names}
    files: dict[str, bytes] = {}
    assets: list[dict[str, Any]] = []
    if portrait is not None:
        mime = sniff_image(portrait) or "image/png"
        ext = extension_for(mime)
        if packaging == "png":
            uri = CCDEFAULT
        elif packaging == "charx":
            files[f"{ICON_DIR}/main.{ext}"] = portrait
            uri = f"{EMBEDDED}{ICON_DIR}/main.{ext}"
        else:
            uri = f"data:{mime};base64,{base64.b64encode(portrait).decode('ascii')}"
        assets.append({"type": "icon", "uri": uri, "name": "main", "ext": ext})
    names: dict[str, str] = {}
    taken: set[str] = set()
    for number, image in enumerate(images, start=1):
        variant = by_id.get(image.variant_id)
        if variant is None:
            continue
        if image.data is not None:
            mime = sniff_image(image.data) or "image/png"
            ext = extension_for(mime)
            if packaging == "charx":
                path = f"{OTHER_DIR}/{number:03d}.{ext}"
                files[path] = image.data
                uri = EMBEDDED + path
            else:
                uri = f"data:{mime};base64,{base64.b64encode(image.data).decode('ascii')}"
        elif image.url and image.url.startswith(("https://", "http://")):
            uri, ext = image.url, _link_ext(image.url)
        else:
            continue
        label = f"{theme_names[variant.theme_id]}: {' '.join(variant.prompt.split())}"
        name = _unique(_clip(label, MAX_ASSET_NAME), taken)
        names[variant.id] = name
        assets.append({"type": "other", "uri": uri, "name": name, "ext": ext})
    v2 = card_from_character(character, themes, variants, creator=creator, asset_uris=names)
    data = {
        **v2["data"],
        "group_only_greetings": [],
        "assets": assets,
        "creation_date": created,
        "modification_date": modified,
    }
    top = {k: v for k, v in v2.items() if k not in ("spec", "spec_version", "data")}
    return {"spec": SPEC_V3, "spec_version": SPEC_V3_VERSION, **top, "data": data}, files


def v2_backfill(card: dict[str, Any]) -> dict[str, Any]:
    """The V2 card written beside a V3 one (the ``chara`` chunk), with the spec's warning."""
    data = dict(card["data"])
    data["creator_notes"] = f"{BACKFILL_NOTE}\n\n{data.get('creator_notes', '')}".rstrip()
    return {**card, "data": data}


def _data_url(uri: str) -> bytes | None:
    match = _DATA_URL.fullmatch(uri)
    if match is None:
        return None
    payload = "".join(match.group(3).split())
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _content(uri: str, kind: str, picture: bytes | None, resolve: Resolver) -> bytes | None:
    if uri == CCDEFAULT:
        return picture if kind == "icon" else None
    if uri.startswith("data:"):
        return _data_url(uri)
    if uri.startswith(EMBEDDED):
        return resolve(uri[len(EMBEDDED) :])
    return None  # links (http, https, file, …) are never fetched


@dataclass(frozen=True)
class ReadAssets:
    """A V3 card's images: the portrait (with its type) and the variants to make."""

    portrait: bytes | None
    portrait_mime: str | None
    assets: list[CardAsset]
    themes: list[str]
    skipped: int


def read_assets(
    data: dict[str, Any], variants: list[CardVariant], resolve: Resolver, picture: bytes | None
) -> ReadAssets:
    """The card's portrait (the ``icon`` named ``main``, else ``picture``: the PNG itself) and
    its other images as variants; links, sounds, user icons and unreadable entries are skipped.

    Raises:
        InvalidInputError: ``invalid.card.field_too_long`` (too many assets or variants),
            ``invalid.card.images_too_large``, or whatever ``resolve`` raises for a refused
            entry.
    """
    raw = data.get("assets")
    if not isinstance(raw, list):  # the spec's default: the PNG is the main icon
        mime = sniff_image(picture) if picture else None
        return ReadAssets(picture, mime, [], [], 0)
    if len(raw) > MAX_ASSETS:
        raise too_long("assets", len(raw), MAX_ASSETS)
    ours = {v.asset: v for v in variants if v.asset}
    portrait: tuple[bytes, str] | None = None
    found: list[CardAsset] = []
    skipped = total = 0
    for item in raw:
        kind, uri, name = (
            item.get(k) if isinstance(item, dict) else None for k in ("type", "uri", "name")
        )
        if not isinstance(kind, str) or not isinstance(uri, str) or kind == "user_icon":
            skipped += 1
            continue
        kind = kind.replace("\0", "").strip()
        name = name.replace("\0", "").strip() if isinstance(name, str) else ""
        content = _content(uri, kind, picture, resolve)
        mime = sniff_image(content) if content else None
        if content is None or mime is None:
            skipped += 1
            continue
        total += len(content)
        if total > MAX_IMAGE_TOTAL:
            raise images_too_large()
        if kind == "icon" and name == "main" and portrait is None:
            portrait = (content, mime)
            continue
        mine = ours.get(name)
        if mine is not None:
            found.append(CardAsset(mine.theme, mine.prompt, content, mime))
        else:
            prompt = _clip(name or kind or "image", MAX_PROMPT)
            found.append(CardAsset(_THEME_OF_TYPE.get(kind, FOREIGN_THEME), prompt, content, mime))
        if len(found) > MAX_VARIANTS:
            raise too_long("variants", len(found), MAX_VARIANTS)
    if portrait is None and picture is not None:
        portrait = (picture, sniff_image(picture) or "image/png")
    themes = list(dict.fromkeys(a.theme for a in found))
    return ReadAssets(
        portrait[0] if portrait else None,
        portrait[1] if portrait else None,
        found,
        themes,
        skipped,
    )
