"""Character Card V2 export and import (bot.cards), with no database."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bot.cards import (
    MAX_CARD_BYTES,
    PROJECT_EXTENSION,
    card_from_character,
    card_json_bytes,
    card_png,
    parse_card,
)
from bot.errors import InvalidInputError
from db.models import Character, CharacterTheme, ThemeVariant

SCHEMA = json.loads((Path(__file__).parent / "data" / "chara_card_v2.schema.json").read_text())


def _character(**overrides: Any) -> Character:
    values: dict[str, Any] = {
        "id": "c0ffee00-0000-4000-8000-000000000001",
        "user_id": "u1",
        "name": "Mira Vale",
        "description": "A lighthouse keeper who collects storms.\nShe hums sea shanties.",
        "prompt": "portrait of a lighthouse keeper, oil painting",
        "style_type": "fantasy",
        "image_url": "https://images.example/characters/c1/a.png",
        "thumbnail_url": "https://images.example/characters/c1/a_thumb.webp",
        "meta": {"artStyle": "fantasy", "generationId": "g1"},
        "tags": ["fantasy", "sea", "keeper"],
        "age": "34",
        "gender": "female",
        "occupation": "lighthouse keeper",
        "personality": ["stubborn", "warm", "curious"],
        "physical_traits": {"hair": "silver braid", "eye_color": "grey"},
        "clothing": "oilskin coat",
        "background": "Raised on a storm-wrecked island, she keeps the last light burning.",
    }
    values.update(overrides)
    return Character(**values)


def _themes() -> tuple[list[CharacterTheme], list[ThemeVariant]]:
    themes = [
        CharacterTheme(id="t1", character_id="c1", name="Winter", description="Cold coasts"),
        CharacterTheme(id="t2", character_id="c1", name="Festival", description=None),
    ]
    variants = [
        ThemeVariant(
            id="v1",
            theme_id="t1",
            character_id="c1",
            prompt="add snow",
            image_url="https://images.example/v1.png",
            thumbnail_url="https://images.example/v1_thumb.webp",
        ),
        ThemeVariant(id="v2", theme_id="t2", character_id="c1", prompt="lanterns"),
        ThemeVariant(id="v3", theme_id="gone", character_id="c1", prompt="orphan"),
    ]
    return themes, variants


def _portrait(mode: str = "RGBA", size: tuple[int, int] = (64, 96), **save: Any) -> bytes:
    color: Any = (200, 40, 90, 128) if mode == "RGBA" else 120
    if mode == "RGB":
        color = (10, 20, 30)
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    image.save(out, format=save.pop("format", "PNG"), **save)
    return out.getvalue()


def _card(character: Character | None = None) -> dict[str, Any]:
    themes, variants = _themes()
    return card_from_character(character or _character(), themes, variants, creator="Storm Captain")


def _png_with_text(payload: str, *, key: str = "chara", kind: str = "tEXt") -> bytes:
    info = PngInfo()
    if kind == "iTXt":
        info.add_itxt(key, payload, zip=True)
    else:
        info.add_text(key, payload, zip=kind == "zTXt")
    return _portrait("RGB", pnginfo=info)


def _b64(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode("utf-8")).decode("ascii")


def _text_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every text chunk of a PNG, read by hand."""
    found, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if kind in {b"tEXt", b"zTXt", b"iTXt"}:
            found.append((kind, png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return found


def _reason(exc: pytest.ExceptionInfo[InvalidInputError]) -> str | None:
    return exc.value.reason_key


def test_round_trip_through_png_recreates_an_equal_character():
    """Character -> PNG card -> parse_card gives back every attribute the bot stores."""
    character = _character()
    parsed = parse_card(card_png(_card(character), _portrait()), "mira.png")
    assert parsed.from_charbot
    assert parsed.name == character.name
    assert parsed.description == character.description
    assert parsed.style == character.style_type
    assert (parsed.age, parsed.gender, parsed.occupation) == ("34", "female", "lighthouse keeper")
    assert parsed.personality_traits == character.personality
    assert parsed.clothing == character.clothing
    assert parsed.scenario == character.background
    assert parsed.physical_traits == character.physical_traits
    assert parsed.tags == character.tags
    assert parsed.prompt == character.prompt
    assert parsed.creator == "Storm Captain"
    assert parsed.themes == ["Winter", "Festival"]
    assert parsed.theme_descriptions == {"Winter": "Cold coasts"}
    assert [(v.theme, v.prompt, v.image_url) for v in parsed.variants] == [
        ("Winter", "add snow", "https://images.example/v1.png"),
        ("Festival", "lanterns", None),
    ]
    assert parsed.image_mime == "image/png"
    assert parsed.image is not None
    assert _text_chunks(parsed.image) == []


def test_round_trip_through_json_matches_the_png_route():
    """The JSON export parses to the same data as the PNG, without an image."""
    card = _card()
    from_json = parse_card(card_json_bytes(card), "mira.json")
    from_png = parse_card(card_png(card, _portrait()), "mira.png")
    assert from_json.image is None
    assert from_json.image_mime is None
    assert from_json.description == from_png.description
    assert from_json.personality_traits == from_png.personality_traits
    assert from_json.physical_traits == from_png.physical_traits


def test_sparse_character_round_trips_with_empty_fields():
    """A character with only a name and prompt exports and imports with nothing invented."""
    sparse = _character(
        description=None,
        age=None,
        gender=None,
        occupation=None,
        personality=None,
        physical_traits=None,
        clothing=None,
        background=None,
        tags=None,
        style_type=None,
        meta=None,
    )
    card = card_from_character(sparse, [], [], creator="")
    assert Draft202012Validator(SCHEMA).is_valid(card)
    parsed = parse_card(card_json_bytes(card), "sparse.json")
    assert parsed.name == "Mira Vale"
    assert (parsed.description, parsed.scenario, parsed.personality) == ("", "", "")
    assert parsed.personality_traits == []
    assert parsed.physical_traits == {}
    assert parsed.tags == []
    assert parsed.style is None
    assert parsed.themes == []


def test_visible_card_fields_read_well_in_other_tools():
    """The card's visible fields carry appearance facts, personality, backstory and greeting."""
    data = _card()["data"]
    assert data["description"].startswith("A lighthouse keeper who collects storms.")
    assert "Age: 34" in data["description"]
    assert "Eye color: grey" in data["description"]
    assert "Clothing: oilskin coat" in data["description"]
    assert data["personality"] == "stubborn, warm, curious"
    assert data["scenario"].startswith("Raised on a storm-wrecked island")
    assert "Mira Vale" in data["first_mes"]
    assert "charbot" in data["creator_notes"]
    assert "fantasy" in data["creator_notes"]
    assert data["character_version"] == "1"
    assert data["extensions"][PROJECT_EXTENSION]["source"]["character_id"] == _character().id


def test_chara_chunk_validates_against_the_v2_schema():
    """The PNG's single 'chara' tEXt chunk decodes to a card valid under the V2 JSON Schema."""
    Draft202012Validator.check_schema(SCHEMA)
    png = card_png(_card(), _portrait())
    chunks = _text_chunks(png)
    assert [(kind, body.split(b"\0")[0]) for kind, body in chunks] == [(b"tEXt", b"chara")]
    decoded = json.loads(base64.b64decode(chunks[0][1].split(b"\0", 1)[1]))
    errors = list(Draft202012Validator(SCHEMA).iter_errors(decoded))
    assert errors == []
    assert decoded["spec"] == "chara_card_v2"
    assert decoded["spec_version"] == "2.0"


def test_schema_rejects_a_malformed_card():
    """The test schema is strict enough to catch a wrong type or a missing field."""
    card = _card()
    card["data"]["tags"] = "sea"
    del card["data"]["mes_example"]
    assert len(list(Draft202012Validator(SCHEMA).iter_errors(card))) == 2


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "P", "LA", "I;16", "1"])
def test_card_png_opens_in_pillow_and_keeps_the_image_mode(mode: str):
    """The card PNG is a normal picture: same size and mode as the portrait."""
    png = card_png(_card(), _portrait(mode, size=(40, 30)))
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG"
        assert image.size == (40, 30)
        assert image.mode == mode
        assert "chara" in image.text


@pytest.mark.parametrize(("mode", "expected"), [("I", "I;16"), ("PA", "RGBA"), ("YCbCr", "RGB")])
def test_card_png_converts_modes_png_cannot_store(mode: str, expected: str):
    """A portrait in a mode PNG lacks becomes the nearest PNG mode, keeping its alpha."""
    portrait = io.BytesIO()
    Image.new(mode, (8, 8)).save(portrait, format="TIFF")
    with Image.open(io.BytesIO(card_png(_card(), portrait.getvalue()))) as image:
        assert image.mode == expected


def test_card_png_keeps_palette_transparency():
    """A palette portrait's transparent colour survives re-encoding."""
    png = card_png(_card(), _portrait("P", transparency=0))
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "P"
        assert image.info.get("transparency") == 0


def test_card_png_converts_a_cmyk_jpeg_portrait():
    """A JPEG portrait in CMYK (which PNG cannot store) becomes an RGB PNG card."""
    jpeg = io.BytesIO()
    Image.new("CMYK", (20, 20), (0, 50, 50, 0)).save(jpeg, format="JPEG")
    png = card_png(_card(), jpeg.getvalue())
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "RGB"
    assert parse_card(png, "card.png").name == "Mira Vale"


def test_card_png_replaces_an_old_chara_chunk():
    """Re-exporting over a portrait that already holds cards leaves only the new 'chara'."""
    old = _png_with_text(_b64({"name": "Old", "description": "stale"}))
    info = PngInfo()
    info.add_text("chara", _b64({"name": "Older", "description": "staler"}))
    info.add_text("ccv3", _b64({"spec": "chara_card_v3", "data": {"name": "V3"}}))
    with Image.open(io.BytesIO(old)) as image:
        doubled = io.BytesIO()
        image.save(doubled, format="PNG", pnginfo=info)
    png = card_png(_card(), doubled.getvalue())
    assert [body.split(b"\0")[0] for _, body in _text_chunks(png)] == [b"chara"]
    assert parse_card(png, "card.png").name == "Mira Vale"


def test_card_png_refuses_a_non_image_portrait():
    """A portrait that is not an image raises InvalidInputError."""
    with pytest.raises(InvalidInputError) as exc:
        card_png(_card(), b"not an image")
    assert _reason(exc) == "invalid.image.not_image"


def test_v1_flat_card_imports():
    """A V1 card (fields at the top level) imports with split personality and no style."""
    v1 = {
        "name": "  Old Tom ",
        "description": "{{char}} runs the ferry and teases {{user}}.",
        "personality": "gruff, kind\nlazy",
        "scenario": "A foggy harbour.",
        "first_mes": "Fare, please.",
        "mes_example": "",
    }
    parsed = parse_card(json.dumps(v1).encode(), "tom.json")
    assert parsed.name == "Old Tom"
    assert parsed.description == "Old Tom runs the ferry and teases the user."
    assert parsed.personality_traits == ["gruff", "kind", "lazy"]
    assert parsed.scenario == "A foggy harbour."
    assert parsed.first_mes == "Fare, please."
    assert parsed.tags == []
    assert parsed.style is None
    assert not parsed.from_charbot
    assert parsed.image is None


def test_placeholder_name_with_backslashes_is_inserted_literally():
    """A name like 'R\\1' replaces {{char}} verbatim, not as a regex template."""
    card = {"name": r"R\1 \g<0>", "description": "I am {{Char}}."}
    assert parse_card(json.dumps(card).encode(), "r.json").description == r"I am R\1 \g<0>."


def test_foreign_v2_png_card_imports_with_its_picture():
    """A V2 PNG from another tool imports: fields mapped, the picture kept without its chunks."""
    foreign = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Seraphina",
            "description": "A guardian of the forest glade.",
            "personality": "caring, protective",
            "scenario": "You wake in her glade.",
            "first_mes": "*She smiles.* You're safe now.",
            "mes_example": "",
            "creator_notes": "",
            "system_prompt": "",
            "post_history_instructions": "",
            "alternate_greetings": [],
            "tags": ["fantasy", "Female", "fantasy", "", 7, "x" * 80],
            "creator": "someone",
            "character_version": "1.0",
            "extensions": {"talkativeness": "0.5", "depth_prompt": {"prompt": "", "depth": 4}},
        },
    }
    png = _png_with_text(_b64(foreign))
    parsed = parse_card(png, "Seraphina.png")
    assert parsed.name == "Seraphina"
    assert parsed.description == "A guardian of the forest glade."
    assert parsed.personality_traits == ["caring", "protective"]
    assert parsed.scenario == "You wake in her glade."
    assert parsed.tags == ["fantasy", "Female"]
    assert parsed.creator == "someone"
    assert parsed.style is None
    assert parsed.prompt is None
    assert parsed.themes == []
    assert parsed.image_mime == "image/png"
    assert parsed.image is not None
    with Image.open(io.BytesIO(parsed.image)) as image:
        assert image.size == (64, 96)
        assert "chara" not in image.text


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
def test_compressed_chara_chunks_are_read(kind: str):
    """A 'chara' stored in a zTXt or iTXt chunk is read like a tEXt one."""
    png = _png_with_text(_b64({"name": "Zed", "description": "compressed"}), kind=kind)
    assert parse_card(png, "zed.png").description == "compressed"


def test_ccv3_chunk_is_read_when_chara_is_missing():
    """A V3-only PNG ('ccv3' chunk, spec chara_card_v3) still imports its data fields."""
    v3 = {"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Nova"}}
    assert parse_card(_png_with_text(_b64(v3), key="ccv3"), "nova.png").name == "Nova"


def test_card_edited_elsewhere_keeps_its_visible_edits():
    """When another tool changed the visible fields, they win over the stale extension."""
    card = _card()
    card["data"]["description"] = "Rewritten by hand."
    card["data"]["personality"] = "bold; loud"
    parsed = parse_card(card_json_bytes(card), "edited.json")
    assert parsed.description == "Rewritten by hand."
    assert parsed.personality_traits == ["bold; loud"]
    assert parsed.age == "34"  # structured facts still come from the extension


def test_forged_extension_values_are_sanitised():
    """Bad types in the extension are ignored; unknown styles and non-http URLs are dropped."""
    card = _card()
    ext = card["data"]["extensions"][PROJECT_EXTENSION]
    ext.update(style="watercolour", age=34, gender=["x"], prompt=None)
    ext["themes"][0]["variants"][0]["image_url"] = "file:///etc/passwd"
    ext["themes"] += ["not a theme", {"name": 5, "variants": "x"}]
    ext["themes"][1]["description"] = ["odd"]
    ext["themes"][1]["variants"].append({"prompt": {"no": "text"}})
    card["data"]["name"] = "Mira\0 Vale"
    parsed = parse_card(card_json_bytes(card), "forged.json")
    assert parsed.name == "Mira Vale"
    assert parsed.style is None
    assert parsed.age is None
    assert parsed.gender is None
    assert parsed.prompt is None
    assert parsed.variants[0].image_url is None
    assert parsed.themes == ["Winter", "Festival"]


def test_too_large_file_is_rejected():
    """A file over 10 MB is refused before anything is parsed."""
    with pytest.raises(InvalidInputError) as exc:
        parse_card(b" " * (MAX_CARD_BYTES + 1), "big.json")
    assert _reason(exc) == "invalid.card.too_large"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b'{"name": "A", "description": ', "cut.json"),
        (b"\xff\xfe{}", "utf16.json"),
        (b"[" * 100_000 + b"]" * 100_000, "deep.json"),
    ],
)
def test_malformed_json_is_rejected(data: bytes, filename: str):
    """Truncated, non-UTF-8 or absurdly nested JSON raises bad_json."""
    with pytest.raises(InvalidInputError) as exc:
        parse_card(data, filename)
    assert _reason(exc) == "invalid.card.bad_json"


@pytest.mark.parametrize("payload", ["!!not base64!!", base64.b64encode(b"not json").decode()])
def test_malformed_chara_chunk_is_rejected(payload: str):
    """A 'chara' chunk that is not base64 of JSON raises bad_json."""
    with pytest.raises(InvalidInputError) as exc:
        parse_card(_png_with_text(payload), "bad.png")
    assert _reason(exc) == "invalid.card.bad_json"


def test_unreadable_unrelated_text_chunk_is_ignored():
    """A broken text chunk under another keyword does not spoil the card."""
    info = PngInfo()
    info.add_text("chara", _b64({"name": "Kit", "description": "fine"}))
    info.add_text("Comment", "x", zip=True)
    png = _portrait("RGB", pnginfo=info)
    start = png.index(b"zTXtComment\0\0") + len(b"zTXtComment\0\0")
    broken = png[:start] + b"\xff" + png[start + 1 :]  # corrupt zlib data (CRC left stale)
    assert parse_card(broken, "kit.png").name == "Kit"


def test_exif_orientation_is_applied_to_the_card_picture():
    """A sideways-tagged JPEG portrait is stored upright in the PNG card."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    jpeg = _portrait("RGB", size=(30, 10), format="JPEG", exif=exif)
    with Image.open(io.BytesIO(card_png(_card(), jpeg))) as image:
        assert image.size == (10, 30)


def test_png_without_chara_chunk_is_rejected():
    """An ordinary picture is not a card."""
    with pytest.raises(InvalidInputError) as exc:
        parse_card(_png_with_text("hello", key="Comment"), "photo.png")
    assert _reason(exc) == "invalid.card.not_a_card"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b'{"hello": "world"}', "config.json"),
        (b"[1, 2, 3]", "list.json"),
        (b'{"spec": "chara_card_v2", "data": "nope"}', "broken.json"),
        (b'{"name": "A", "description": 5}', "typed.json"),
        (b"just some notes", "card.png"),
        (b"", "empty.json"),
        (_portrait("RGB", format="JPEG"), "card.jpg"),
    ],
)
def test_non_cards_are_rejected(data: bytes, filename: str):
    """Non-card JSON, a text file named .png, an empty file and a JPEG raise not_a_card."""
    with pytest.raises(InvalidInputError) as exc:
        parse_card(data, filename)
    assert _reason(exc) == "invalid.card.not_a_card"


@pytest.mark.parametrize("name", ["", "   ", None])
def test_card_without_name_is_rejected(name: str | None):
    """A card whose name is missing or blank raises missing_name."""
    card = {"spec": "chara_card_v2", "data": {"name": name, "description": "x"}}
    with pytest.raises(InvalidInputError) as exc:
        parse_card(json.dumps(card).encode(), "anon.json")
    assert _reason(exc) == "invalid.card.missing_name"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "n" * 101),
        ("description", "d" * 2001),
        ("scenario", "s" * 1001),
        ("personality", "p" * 1001),
    ],
)
def test_overlong_fields_are_rejected(field: str, value: str):
    """Texts beyond the bot's limits raise field_too_long (they are not truncated)."""
    card = {"spec": "chara_card_v2", "data": {"name": "Ok", field: value}}
    with pytest.raises(InvalidInputError) as exc:
        parse_card(json.dumps(card).encode(), "long.json")
    assert _reason(exc) == "invalid.card.field_too_long"
    assert exc.value.params["max"] < len(value)


def test_name_limit_counts_after_stripping():
    """A 100-character name padded with spaces is accepted."""
    card = {"name": "  " + "n" * 100 + "  ", "description": "x"}
    assert parse_card(json.dumps(card).encode(), "pad.json").name == "n" * 100


def test_png_with_damaged_pixels_is_rejected():
    """A card whose picture data is corrupt raises bad_image."""
    png = bytearray(_png_with_text(_b64({"name": "A", "description": "x"})))
    idat = png.index(b"IDAT")
    png[idat + 4 : idat + 12] = b"\x00" * 8
    with pytest.raises(InvalidInputError) as exc:
        parse_card(bytes(png), "broken.png")
    assert _reason(exc) == "invalid.card.bad_image"


def test_zip_bomb_text_chunk_is_rejected():
    """A zTXt chunk inflating past the size limit is refused without inflating it all."""
    body = b"chara\0\0" + zlib.compress(b"A" * (MAX_CARD_BYTES + 10), 9)
    chunk = struct.pack(">I", len(body)) + b"zTXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"zTXt" + body))
    plain = _portrait("RGB")
    png = plain[:33] + chunk + plain[33:]  # after the signature and IHDR
    with pytest.raises(InvalidInputError) as exc:
        parse_card(png, "bomb.png")
    assert _reason(exc) == "invalid.card.bad_json"
