"""Our exports read by published card parsers (DESIGN.md: "Test exports against such published
parsers"): ``aichar`` reads only the V1 fields at a card's top level, ``tavern-card`` reads the
PNG chunks (``ccv3`` first) and the nested data. Skipped where a parser is not installed
(proposed as dev dependencies ``aichar>=1.0.5`` and ``tavern-card>=0.1.1``; they join
pyproject.toml with the next ``make lock``)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from bot.cards import card_from_character, card_json_bytes, card_png, write_charx
from tests.test_cards_v3 import PORTRAIT, _character, _v3, _v3_png

aichar = pytest.importorskip("aichar")
tavern_card = pytest.importorskip("tavern_card")


def _v2() -> dict:
    character, themes, variants = _character()
    return card_from_character(character, themes, variants, creator="Storm Captain")


def _check_aichar(loaded) -> None:
    assert loaded.name == "Mira Vale"
    assert loaded.summary == "A lighthouse keeper who collects storms."
    assert loaded.personality == "stubborn, warm"
    assert loaded.scenario == "Raised on a storm-wrecked island."
    assert loaded.greeting_message.startswith("*Mira Vale looks up.*")


def test_aichar_reads_the_v2_json_and_png_exports():
    """A V1-only reader sees the whole character in the V2 JSON and PNG (the V1 fields are
    repeated at the top level)."""
    _check_aichar(aichar.load_character_json(card_json_bytes(_v2()).decode()))
    _check_aichar(aichar.load_character_card(card_png(_v2(), PORTRAIT)))


def test_aichar_reads_the_v3_png_and_the_charx_card():
    """The V3 PNG and the .charx's card.json read in a V1-only reader too."""
    _check_aichar(aichar.load_character_card(_v3_png()))
    card, files = _v3("charx")
    inner = zipfile.ZipFile(io.BytesIO(write_charx(card, files))).read("card.json")
    _check_aichar(aichar.load_character_json(inner.decode()))


def test_tavern_card_reads_the_v3_chunk_first_and_the_v2_card():
    """tavern-card takes the ``ccv3`` chunk of the V3 PNG, and our V2 PNG's ``chara``."""
    v3 = tavern_card.parse_png_card(_v3_png())
    assert v3["spec"] == "chara_card_v3"
    assert v3["data"]["name"] == "Mira Vale"
    assert v3["data"]["personality"] == "stubborn, warm"
    v2 = tavern_card.parse_png_card(card_png(_v2(), PORTRAIT))
    assert v2["spec"] == "chara_card_v2"
    assert v2["data"]["extensions"]["charbot"]["style"] == "fantasy"
    card, _ = _v3("charx")
    assert tavern_card.parse_card(json.dumps(card))["data"]["scenario"].startswith("Raised")
