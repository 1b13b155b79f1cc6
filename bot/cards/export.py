"""Export: a character (with its themes and variants) as a Character Card V2, written as JSON.

The card's visible fields are written for other front ends; the character's raw attributes ride
along in ``data.extensions["charbot"]`` so a re-import recreates an equal character.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.cards.model import EXTENSION_VERSION, PROJECT_EXTENSION, SPEC, SPEC_VERSION, V1_FIELDS
from db.meta import ART_STYLE, GENERATION_ID
from db.models import Character, CharacterTheme, ThemeVariant

_FACTS = (("age", "Age"), ("gender", "Gender"), ("occupation", "Occupation"))


def _appearance(ext: dict[str, Any]) -> list[str]:
    lines = [f"{label}: {ext[key]}" for key, label in _FACTS if ext.get(key)]
    if ext.get("clothing"):
        lines.append(f"Clothing: {ext['clothing']}")
    traits = ext.get("physical_traits") or {}
    lines += [f"{str(k).replace('_', ' ').capitalize()}: {v}" for k, v in traits.items() if v]
    return lines


def visible_description(ext: dict[str, Any]) -> str:
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
    asset_uris: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Character Card V2 of ``character``; ``variants`` outside ``themes`` are left out.

    ``asset_uris`` (variant id → the URI of the V3 asset holding its image) ties the
    extension's variants to a V3 card's assets. The V1 fields are repeated at the top level
    (as the V2 spec recommends), so V1-only readers see the character too.
    """
    name = character.name or "Unnamed"
    meta = character.meta or {}
    style = character.style_type or meta.get(ART_STYLE)
    personality = list(character.personality or [])
    by_theme: dict[str, list[dict[str, Any]]] = {t.id: [] for t in themes}
    for v in variants:
        if v.theme_id in by_theme:
            entry = {"prompt": v.prompt, "image_url": v.image_url, "thumbnail_url": v.thumbnail_url}
            if asset_uris and v.id in asset_uris:
                entry["asset"] = asset_uris[v.id]
            by_theme[v.theme_id].append(entry)
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
        "source": {"character_id": character.id, "generation_id": meta.get(GENERATION_ID)},
    }
    notes = "Made with charbot, a Discord bot for AI characters."
    data: dict[str, Any] = {
        "name": name,
        "description": visible_description(ext),
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
    }
    v1 = {key: data[key] for key in V1_FIELDS}
    return {"spec": SPEC, "spec_version": SPEC_VERSION, **v1, "data": data}


def card_json_bytes(card: dict[str, Any]) -> bytes:
    """The card as pretty-printed UTF-8 JSON."""
    return json.dumps(card, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
