"""Character Card V2: export a character as a card (JSON, or a PNG with a ``chara`` chunk) and
read cards back, from charbot or from other tools (SillyTavern and friends; V1 flat cards too).

Plain data in, plain data out; the PNG functions are CPU work for ``asyncio.to_thread``. The
card's visible fields are written for other front ends; the character's raw attributes ride
along in ``data.extensions["charbot"]`` so a re-import recreates an equal character. Cards are
untrusted input: the extension is used only when well-formed and in step with the visible
fields (a card edited in another tool keeps its edits), and every value is length-checked.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from bot.errors import InvalidInputError
from bot.storage.images import png_dimensions, sniff_image
from db.models import STYLES, Character, CharacterTheme, ThemeVariant

PROJECT_EXTENSION = "charbot"
EXTENSION_VERSION = 1
SPEC, SPEC_VERSION = "chara_card_v2", "2.0"
MAX_CARD_BYTES = 10 * 1024 * 1024
# The limits of /character create, /character edit and /theme create, so an import stays editable.
MAX_NAME, MAX_DESCRIPTION, MAX_ATTRIBUTE, MAX_SHORT = 100, 2000, 1000, 100
MAX_PROMPT, MAX_THEME_NAME, MAX_THEME_DESCRIPTION = 4000, 50, 200
MAX_TRAITS, MAX_THEMES, MAX_VARIANTS, MAX_TAGS, MAX_TAG = 30, 25, 200, 20, 50
MAX_IMAGE_SIDE = 4096
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_CARD_KEYWORDS = ("chara", "ccv3")  # V2 first; a V3-only PNG still reads (same data fields)
_PNG_MODES = frozenset({"1", "L", "LA", "I;16", "I;16B", "P", "RGB", "RGBA"})
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
_URL = re.compile(r"https?://\S{1,2040}")
_SPLIT_TRAITS = re.compile(r"[,\n]+")
_CHAR_MACRO = re.compile(r"\{\{char\}\}|<BOT>", re.IGNORECASE)
_USER_MACRO = re.compile(r"\{\{user\}\}|<USER>", re.IGNORECASE)
_FACTS = (("age", "Age"), ("gender", "Gender"), ("occupation", "Occupation"))


@dataclass(frozen=True)
class CardVariant:
    """A variant listed in a charbot card; its URLs point at the exporter's storage."""

    theme: str
    prompt: str
    image_url: str | None
    thumbnail_url: str | None = None


@dataclass(frozen=True)
class CardData:
    """A card read by :func:`parse_card`; empty text means absent, ``style`` None = default."""

    name: str
    description: str
    personality: str
    scenario: str
    first_mes: str
    tags: list[str]
    creator: str
    style: str | None
    age: str | None
    gender: str | None
    occupation: str | None
    personality_traits: list[str]
    clothing: str | None
    physical_traits: dict[str, str]
    prompt: str | None
    themes: list[str]
    variants: list[CardVariant]
    image: bytes | None
    image_mime: str | None
    theme_descriptions: dict[str, str] = field(default_factory=dict)
    from_charbot: bool = False


# --- export -----------------------------------------------------------------------------------


def _appearance(ext: dict[str, Any]) -> list[str]:
    lines = [f"{label}: {ext[key]}" for key, label in _FACTS if ext.get(key)]
    if ext.get("clothing"):
        lines.append(f"Clothing: {ext['clothing']}")
    traits = ext.get("physical_traits") or {}
    lines += [f"{str(k).replace('_', ' ').capitalize()}: {v}" for k, v in traits.items() if v]
    return lines


def _visible_description(ext: dict[str, Any]) -> str:
    """The member's words, then one line per appearance fact."""
    parts = [ext["description"]] if ext.get("description") else []
    facts = _appearance(ext)
    if facts:
        parts.append("\n".join(facts))
    return "\n\n".join(parts)


def card_from_character(
    character: Character,
    themes: list[CharacterTheme],
    variants: list[ThemeVariant],
    *,
    creator: str,
) -> dict[str, Any]:
    """The Character Card V2 of ``character``; ``variants`` outside ``themes`` are left out."""
    name = character.name or "Unnamed"
    meta = character.meta or {}
    style = character.style_type or meta.get("artStyle")
    personality = list(character.personality or [])
    by_theme: dict[str, list[dict[str, Any]]] = {t.id: [] for t in themes}
    for v in variants:
        if v.theme_id in by_theme:
            by_theme[v.theme_id].append(
                {"prompt": v.prompt, "image_url": v.image_url, "thumbnail_url": v.thumbnail_url}
            )
    ext: dict[str, Any] = {
        "version": EXTENSION_VERSION,
        "description": character.description,
        "style": style,
        "age": character.age,
        "gender": character.gender,
        "occupation": character.occupation,
        "personality": personality,
        "physical_traits": dict(character.physical_traits or {}),
        "clothing": character.clothing,
        "background": character.background,
        "prompt": character.prompt,
        "tags": list(character.tags or []),
        "image_url": character.image_url,
        "thumbnail_url": character.thumbnail_url,
        "themes": [
            {"name": t.name, "description": t.description, "variants": by_theme[t.id]}
            for t in themes
        ],
        "source": {"character_id": character.id, "generation_id": meta.get("generationId")},
    }
    notes = "Made with charbot, a Discord bot for AI characters."
    return {
        "spec": SPEC,
        "spec_version": SPEC_VERSION,
        "data": {
            "name": name,
            "description": _visible_description(ext),
            "personality": ", ".join(personality),
            "scenario": character.background or "",
            "first_mes": f"*{name} looks up.* Hello, I'm {name}.",
            "mes_example": "",
            "creator_notes": f"{notes} Art style: {style}." if style else notes,
            "system_prompt": "",
            "post_history_instructions": "",
            "alternate_greetings": [],
            "tags": list(character.tags or []),
            "creator": creator,
            "character_version": "1",
            "extensions": {PROJECT_EXTENSION: ext},
        },
    }


def card_json_bytes(card: dict[str, Any]) -> bytes:
    """The card as pretty-printed UTF-8 JSON."""
    return json.dumps(card, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _png_ready(img: Image.Image) -> Image.Image:
    """The first frame, upright, in a mode PNG stores (kept when it already is one)."""
    img = ImageOps.exif_transpose(img)
    if img.mode in _PNG_MODES:
        return img
    if img.mode in {"I", "F"}:  # 32-bit greyscale: PNG's deepest is 16-bit
        return img.convert("I").convert("I;16")
    alpha = "A" in img.getbands() or "a" in img.mode
    return img.convert("RGBA" if alpha else "RGB")


def card_png(card: dict[str, Any], portrait: bytes) -> bytes:
    """``portrait`` re-encoded as PNG with one tEXt chunk ``chara`` = base64 of the card's JSON.

    Any image mode PNG can store is kept; other text chunks (old cards included) are dropped.

    Raises:
        InvalidInputError: the portrait is not a decodable image (``invalid.image.not_image``).
    """
    payload = json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    info = PngInfo()
    info.add_text("chara", base64.b64encode(payload).decode("ascii"))
    try:
        with Image.open(io.BytesIO(portrait)) as img:
            if img.width * img.height > (Image.MAX_IMAGE_PIXELS or 1 << 40):
                raise Image.DecompressionBombError("too many pixels")
            ready = _png_ready(img)
            out = io.BytesIO()
            ready.save(out, format="PNG", pnginfo=info)
    except _DECODE_ERRORS as exc:
        raise InvalidInputError(
            "The portrait is not a readable image.", reason_key="invalid.image.not_image"
        ) from exc
    return out.getvalue()


# --- import: errors ---------------------------------------------------------------------------


def _not_a_card(reason: str = "That file is not a character card.") -> InvalidInputError:
    return InvalidInputError(reason, reason_key="invalid.card.not_a_card")


def _bad_json(detail: str) -> InvalidInputError:
    return InvalidInputError(
        f"The card's data is damaged ({detail}).", reason_key="invalid.card.bad_json"
    )


def _bad_image() -> InvalidInputError:
    return InvalidInputError(
        "The card's picture is damaged or too large to read.", reason_key="invalid.card.bad_image"
    )


def _too_long(label: str, length: int, limit: int) -> InvalidInputError:
    return InvalidInputError(
        f"The card's {label} is too long ({length} characters; at most {limit}).",
        reason_key="invalid.card.field_too_long",
        field=label,
        length=length,
        max=limit,
    )


def _fit(value: str, label: str, limit: int) -> str:
    if len(value) > limit:
        raise _too_long(label, len(value), limit)
    return value


# --- import: PNG ------------------------------------------------------------------------------


class _InflateError(Exception):
    """A compressed text chunk would inflate past the card size limit."""


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_CARD_BYTES)
    if inflater.unconsumed_tail:
        raise _InflateError
    return out


def _chunk_text(kind: bytes, body: bytes) -> str:
    """The text of a tEXt, zTXt or iTXt chunk (``body`` starts after its keyword's NUL).

    Raises:
        InvalidInputError: ``invalid.card.bad_json`` when it can't be decoded.
    """
    try:
        if kind == b"tEXt":
            return body.decode("latin-1")
        if kind == b"zTXt":
            return _inflate(body[1:]).decode("latin-1")
        compressed = body[:1] == b"\x01"
        _lang, _, rest = body[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return (_inflate(text) if compressed else text).decode("utf-8")
    except (UnicodeDecodeError, zlib.error, _InflateError) as exc:
        raise _bad_json("unreadable text chunk") from exc


def _read_png(data: bytes) -> tuple[dict[str, tuple[bytes, bytes]], bytes]:
    """The raw text chunks ``(type, body after the keyword)`` by lower-cased keyword (first
    wins), and the PNG without its text chunks."""
    texts: dict[str, tuple[bytes, bytes]] = {}
    kept = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    try:
        while True:
            (length,) = struct.unpack(">I", data[pos : pos + 4])
            kind = data[pos + 4 : pos + 8]
            end = pos + 12 + length
            if end > len(data):
                raise _bad_image()
            if kind in _TEXT_CHUNKS:
                keyword, _, body = data[pos + 8 : end - 4].partition(b"\0")
                texts.setdefault(keyword.decode("latin-1").lower(), (kind, body))
            else:
                kept.append(data[pos:end])
            pos = end
            if kind == b"IEND":
                break
    except struct.error as exc:  # ran off the end: no IEND
        raise _bad_image() from exc
    return texts, b"".join(kept)


def _check_image(png: bytes) -> None:
    try:
        width, height = png_dimensions(png)
        limit = min(MAX_IMAGE_SIDE**2, Image.MAX_IMAGE_PIXELS or 1 << 40)
        if max(width, height) > MAX_IMAGE_SIDE or width * height > limit or min(width, height) < 1:
            raise _bad_image()
        with Image.open(io.BytesIO(png), formats=["PNG"]) as img:
            img.load()
    except (*_DECODE_ERRORS, struct.error) as exc:
        raise _bad_image() from exc


def _decode_payload(text: str) -> Any:
    stripped = text.strip()
    if stripped.startswith("{"):  # a few tools store the JSON itself
        return _loads(stripped.encode("utf-8"))
    compact = "".join(stripped.split())
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_json("not base64") from exc
    return _loads(raw)


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _bad_json("not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise _bad_json("not valid JSON") from exc


# --- import: mapping --------------------------------------------------------------------------


def _text(value: Any, label: str) -> str:
    """A card text field: absent/None is empty; NUL characters (PostgreSQL refuses them) go."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _not_a_card(f"The card's {label} is not text.")
    return value.replace("\0", "").strip()


def _optional(value: Any, label: str, limit: int) -> str | None:
    return _fit(_text(value, label), label, limit) or None


def _tags(value: Any) -> list[str]:
    items = value if isinstance(value, list) else []
    cleaned = (_text(t, "tag") for t in items if isinstance(t, str))
    return list(dict.fromkeys(t for t in cleaned if t and len(t) <= MAX_TAG))[:MAX_TAGS]


def _str(value: Any) -> str | None:
    """``value`` when it is a string; in the (untrusted) extension a wrong type counts as absent."""
    return value if isinstance(value, str) else None


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and _URL.fullmatch(value) else None


def _traits_dict(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for key, raw in value.items():
        if isinstance(raw, str | int | float) and not isinstance(raw, bool):
            k = _fit(_text(str(key), "physical trait"), "physical trait name", MAX_SHORT)
            v = _fit(_text(str(raw), "physical trait"), "physical trait", MAX_ATTRIBUTE)
            if k and v:
                out[k] = v
    if len(out) > MAX_TRAITS:
        raise _too_long("physical traits", len(out), MAX_TRAITS)
    return out


def _themes(value: Any) -> tuple[list[str], dict[str, str], list[CardVariant]]:
    names: list[str] = []
    descriptions: dict[str, str] = {}
    variants: list[CardVariant] = []
    for theme in value if isinstance(value, list) else []:
        if not isinstance(theme, dict):
            continue
        name = _fit(_text(_str(theme.get("name")), "theme name"), "theme name", MAX_THEME_NAME)
        if not name or name in names:
            continue
        names.append(name)
        desc = _optional(_str(theme.get("description")), "theme description", MAX_THEME_DESCRIPTION)
        if desc:
            descriptions[name] = desc
        raw_variants = theme.get("variants")
        for v in raw_variants if isinstance(raw_variants, list) else []:
            prompt = _text(_str(v.get("prompt")), "variant prompt") if isinstance(v, dict) else ""
            if prompt:
                variants.append(
                    CardVariant(
                        theme=name,
                        prompt=_fit(prompt, "variant prompt", MAX_PROMPT),
                        image_url=_url(v.get("image_url")),
                        thumbnail_url=_url(v.get("thumbnail_url")),
                    )
                )
    if len(names) > MAX_THEMES:
        raise _too_long("themes", len(names), MAX_THEMES)
    if len(variants) > MAX_VARIANTS:
        raise _too_long("variants", len(variants), MAX_VARIANTS)
    return names, descriptions, variants


def _fields(card: Any) -> dict[str, Any]:
    """The card's data object: V2/V3 ``data``, or a V1 card's top level."""
    if not isinstance(card, dict):
        raise _not_a_card()
    if card.get("spec") in (SPEC, "chara_card_v3"):
        data = card.get("data")
        if not isinstance(data, dict):
            raise _not_a_card()
        return data
    v1 = ("description", "personality", "scenario", "first_mes", "mes_example")
    if "name" in card and any(isinstance(card.get(k), str) for k in v1):
        return card
    raise _not_a_card()


def _ext_text(ext: dict[str, Any], key: str, label: str, limit: int) -> str | None:
    """An extension text field; a value of the wrong type counts as absent."""
    return _optional(_str(ext.get(key)), label, limit)


def _our_extension(data: dict[str, Any]) -> dict[str, Any]:
    extensions = data.get("extensions")
    ext = extensions.get(PROJECT_EXTENSION) if isinstance(extensions, dict) else None
    return ext if isinstance(ext, dict) else {}


def _card_data(card: Any, image: bytes | None) -> CardData:
    data = _fields(card)
    name = _text(data.get("name"), "name")
    if not name:
        raise InvalidInputError("The card has no name.", reason_key="invalid.card.missing_name")
    _fit(name, "name", MAX_NAME)
    description = _text(data.get("description"), "description")
    personality = _text(data.get("personality"), "personality")
    scenario = _text(data.get("scenario"), "scenario")
    ext = _our_extension(data)
    if not ext:  # another tool's card: resolve its {{char}}/{{user}} placeholders
        for pattern, repl in ((_CHAR_MACRO, name), (_USER_MACRO, "the user")):
            literal = repl.replace("\\", "\\\\")  # the name is not a regex template
            description, personality, scenario = (
                pattern.sub(literal, s) for s in (description, personality, scenario)
            )
    facts: dict[str, Any] = {
        "description": _ext_text(ext, "description", "description", MAX_DESCRIPTION) or "",
        "age": _ext_text(ext, "age", "age", MAX_SHORT),
        "gender": _ext_text(ext, "gender", "gender", MAX_SHORT),
        "occupation": _ext_text(ext, "occupation", "occupation", MAX_SHORT),
        "clothing": _ext_text(ext, "clothing", "clothing", MAX_ATTRIBUTE),
        "physical_traits": _traits_dict(ext.get("physical_traits")),
    }
    # The extension's raw values win only while the visible fields still say the same thing:
    # a card edited in another tool keeps its edits.
    if ext and _visible_description(facts) == description:
        description = facts["description"]
    raw_traits = ext.get("personality")
    if isinstance(raw_traits, list) and all(isinstance(t, str) for t in raw_traits):
        traits = [t.strip() for t in raw_traits if t.strip()]
        if ", ".join(traits) != personality:
            traits = []
    else:
        traits = []
    if not traits:
        traits = [t.strip() for t in _SPLIT_TRAITS.split(personality) if t.strip()]
    _fit(", ".join(traits), "personality", MAX_ATTRIBUTE)
    themes, theme_descriptions, variants = _themes(ext.get("themes"))
    return CardData(
        name=name,
        description=_fit(description, "description", MAX_DESCRIPTION),
        personality=personality,
        scenario=_fit(scenario, "backstory", MAX_ATTRIBUTE),
        first_mes=_text(data.get("first_mes"), "first message"),
        tags=_tags(data.get("tags")),
        creator=_fit(_text(data.get("creator"), "creator"), "creator", MAX_SHORT),
        style=ext.get("style") if ext.get("style") in STYLES else None,
        age=facts["age"],
        gender=facts["gender"],
        occupation=facts["occupation"],
        personality_traits=traits,
        clothing=facts["clothing"],
        physical_traits=facts["physical_traits"],
        prompt=_ext_text(ext, "prompt", "image prompt", MAX_PROMPT),
        themes=themes,
        variants=variants,
        image=image,
        image_mime="image/png" if image is not None else None,
        theme_descriptions=theme_descriptions,
        from_charbot=bool(ext),
    )


def parse_card(data: bytes, filename: str) -> CardData:
    """Read a Character Card (V2, V3 data or V1 flat) from a PNG or a JSON file.

    A PNG's picture becomes ``image`` (its text chunks removed); a JSON card has no image.

    Raises:
        InvalidInputError: reason_key ``invalid.card.too_large``, ``.not_a_card``,
            ``.bad_json``, ``.bad_image``, ``.missing_name`` or ``.field_too_long``.
    """
    if len(data) > MAX_CARD_BYTES:
        raise InvalidInputError(
            f"That card is {len(data) / 1048576:.1f} MB; the limit is "
            f"{MAX_CARD_BYTES // 1048576} MB.",
            reason_key="invalid.card.too_large",
            max_mb=MAX_CARD_BYTES // 1048576,
        )
    mime = sniff_image(data)
    if mime == "image/png":
        texts, stripped = _read_png(data)
        chunk = next((texts[k] for k in _CARD_KEYWORDS if k in texts), None)
        if chunk is None:
            raise _not_a_card("That picture has no character card inside.")
        card = _card_data(_decode_payload(_chunk_text(*chunk)), stripped)
        _check_image(stripped)
        return card
    if mime is not None or filename.lower().endswith((".png", ".apng")):
        raise _not_a_card("Only PNG character cards and JSON cards can be imported.")
    if not data.strip():
        raise _not_a_card()
    return _card_data(_loads(data), None)
