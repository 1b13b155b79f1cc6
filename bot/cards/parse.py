"""Import: read a Character Card (V3, V2 or V1 flat; JSON, PNG or ``.charx``) from charbot or
from other tools (SillyTavern, RisuAI and friends) into :class:`~bot.cards.model.CardData`.

Cards are untrusted input: the charbot extension is used only when well-formed and in step with
the visible fields (a card edited in another tool keeps its edits), and every value is
length-checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import replace
from typing import Any

from bot.cards.charx import ZIP_MAGIC, read_charx
from bot.cards.export import visible_description
from bot.cards.limits import too_large
from bot.cards.model import (
    MAX_ATTRIBUTE,
    MAX_CARD_BYTES,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PROMPT,
    MAX_SHORT,
    MAX_TAG,
    MAX_TAGS,
    MAX_THEME_DESCRIPTION,
    MAX_THEME_NAME,
    MAX_THEMES,
    MAX_TRAITS,
    MAX_VARIANTS,
    PROJECT_EXTENSION,
    SPEC,
    SPEC_V3,
    CardData,
    CardVariant,
    bad_json,
    fit,
    not_a_card,
    too_long,
)
from bot.cards.png import check_image, chunk_text, read_png
from bot.cards.v3 import Resolver, read_assets
from bot.errors import InvalidInputError
from bot.storage.images import sniff_image
from db.models import STYLES

_CARD_KEYWORDS = ("ccv3", "chara")  # the V3 card wins over a V2 one written beside it
_URL = re.compile(r"https?://\S{1,2040}")
_SPLIT_TRAITS = re.compile(r"[,\n]+")
_CHAR_MACRO = re.compile(r"\{\{char\}\}|<BOT>", re.IGNORECASE)
_USER_MACRO = re.compile(r"\{\{user\}\}|<USER>", re.IGNORECASE)


def _decode_payload(text: str) -> Any:
    stripped = text.strip()
    if stripped.startswith("{"):  # a few tools store the JSON itself
        return _loads(stripped.encode("utf-8"))
    compact = "".join(stripped.split())
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_json("not base64") from exc
    return _loads(raw)


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise bad_json("not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise bad_json("not valid JSON") from exc


def _text(value: Any, label: str) -> str:
    """A card text field: absent/None is empty; NUL characters (PostgreSQL refuses them) go."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise not_a_card(f"The card's {label} is not text.")
    return value.replace("\0", "").strip()


def _optional(value: Any, label: str, limit: int) -> str | None:
    return fit(_text(value, label), label, limit) or None


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
            k = fit(_text(str(key), "physical trait"), "physical trait name", MAX_SHORT)
            v = fit(_text(str(raw), "physical trait"), "physical trait", MAX_ATTRIBUTE)
            if k and v:
                out[k] = v
    if len(out) > MAX_TRAITS:
        raise too_long("physical traits", len(out), MAX_TRAITS)
    return out


def _themes(value: Any) -> tuple[list[str], dict[str, str], list[CardVariant]]:
    names: list[str] = []
    descriptions: dict[str, str] = {}
    variants: list[CardVariant] = []
    for theme in value if isinstance(value, list) else []:
        if not isinstance(theme, dict):
            continue
        name = fit(_text(_str(theme.get("name")), "theme name"), "theme name", MAX_THEME_NAME)
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
                        prompt=fit(prompt, "variant prompt", MAX_PROMPT),
                        image_url=_url(v.get("image_url")),
                        thumbnail_url=_url(v.get("thumbnail_url")),
                        asset=_str(v.get("asset")),
                    )
                )
    if len(names) > MAX_THEMES:
        raise too_long("themes", len(names), MAX_THEMES)
    if len(variants) > MAX_VARIANTS:
        raise too_long("variants", len(variants), MAX_VARIANTS)
    return names, descriptions, variants


def _fields(card: Any) -> dict[str, Any]:
    """The card's data object: V2/V3 ``data``, or a V1 card's top level."""
    if not isinstance(card, dict):
        raise not_a_card()
    if card.get("spec") in (SPEC, SPEC_V3):
        data = card.get("data")
        if not isinstance(data, dict):
            raise not_a_card()
        return data
    v1 = ("description", "personality", "scenario", "first_mes", "mes_example")
    if "name" in card and any(isinstance(card.get(k), str) for k in v1):
        return card
    raise not_a_card()


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
    fit(name, "name", MAX_NAME)
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
    if ext and visible_description(facts) == description:
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
    fit(", ".join(traits), "personality", MAX_ATTRIBUTE)
    themes, theme_descriptions, variants = _themes(ext.get("themes"))
    return CardData(
        name=name,
        description=fit(description, "description", MAX_DESCRIPTION),
        personality=personality,
        scenario=fit(scenario, "backstory", MAX_ATTRIBUTE),
        first_mes=_text(data.get("first_mes"), "first message"),
        tags=_tags(data.get("tags")),
        creator=fit(_text(data.get("creator"), "creator"), "creator", MAX_SHORT),
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


def _no_entries(path: str) -> bytes | None:
    return None


def _with_assets(
    card: CardData, raw: Any, picture: bytes | None, resolve: Resolver = _no_entries
) -> CardData:
    """A V3 card's assets become its portrait and variants; other cards keep ``picture``."""
    if raw.get("spec") != SPEC_V3:
        return card
    found = read_assets(_fields(raw), card.variants, resolve, picture)
    themes = list(dict.fromkeys([*card.themes, *found.themes]))
    if len(themes) > MAX_THEMES:
        raise too_long("themes", len(themes), MAX_THEMES)
    return replace(
        card,
        image=found.portrait,
        image_mime=found.portrait_mime,
        assets=found.assets,
        themes=themes,
        skipped_assets=found.skipped,
    )


def parse_card(data: bytes, filename: str) -> CardData:
    """Read a Character Card (V3, V2 or V1 flat) from a PNG, a JSON file or a ``.charx``.

    A PNG's picture becomes ``image`` (its text chunks removed) unless a V3 card names another
    main icon; a V3 card's other images become ``assets``.

    Raises:
        InvalidInputError: reason_key ``invalid.card.too_large``, ``.not_a_card``,
            ``.bad_json``, ``.bad_image``, ``.missing_name`` or ``.field_too_long``, or an
            ``invalid.charx.*`` refusal.
    """
    if data.startswith(ZIP_MAGIC) or filename.lower().endswith(".charx"):
        raw_card, resolve = read_charx(data)
        raw = _loads(raw_card)
        return _with_assets(_card_data(raw, None), raw, None, resolve)
    if len(data) > MAX_CARD_BYTES:
        raise too_large(len(data), MAX_CARD_BYTES)
    mime = sniff_image(data)
    if mime == "image/png":
        texts, stripped = read_png(data)
        chunk = next((texts[k] for k in _CARD_KEYWORDS if k in texts), None)
        if chunk is None:
            raise not_a_card("That picture has no character card inside.")
        raw = _decode_payload(chunk_text(*chunk))
        card = _card_data(raw, stripped)
        check_image(stripped)
        return _with_assets(card, raw, stripped)
    if mime is not None or filename.lower().endswith((".png", ".apng")):
        raise not_a_card("Only PNG character cards, JSON cards and .charx files can be imported.")
    if not data.strip():
        raise not_a_card()
    raw = _loads(data)
    return _with_assets(_card_data(raw, None), raw, None)
