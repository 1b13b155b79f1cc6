"""Character Card V3 (PNG ``ccv3``, JSON) and CHARX export and import (bot.cards), with no
database: the spec's fields (checked with a JSON schema written from the spec), every variant
as an asset, the round trip, and the limits a ``.charx`` from anyone must keep."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bot.cards import (
    AssetImage,
    card_from_character,
    card_png,
    parse_card,
    v2_backfill,
    v3_card,
    write_charx,
)
from bot.cards.limits import MAX_ENTRIES, safe_path
from bot.cards.v3 import BACKFILL_NOTE
from bot.errors import InvalidInputError
from db.models import Character, CharacterTheme, ThemeVariant

DATA = Path(__file__).parent / "data"
SCHEMA = Draft202012Validator(json.loads((DATA / "chara_card_v3.schema.json").read_text()))
SPEC_EXAMPLE = json.loads((DATA / "ccv3_spec_example.json").read_text())
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


def _image(
    color: tuple[int, int, int], size: tuple[int, int] = (48, 64), fmt: str = "PNG"
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


PORTRAIT = _image((200, 40, 90))


def _character() -> tuple[Character, list[CharacterTheme], list[ThemeVariant]]:
    character = Character(
        id="c0ffee00-0000-4000-8000-000000000003",
        user_id="u1",
        name="Mira Vale",
        description="A lighthouse keeper who collects storms.",
        prompt="portrait of a lighthouse keeper",
        style_type="fantasy",
        meta={"artStyle": "fantasy"},
        tags=["sea"],
        personality=["stubborn", "warm"],
        background="Raised on a storm-wrecked island.",
    )
    themes = [
        CharacterTheme(id="t1", character_id=character.id, name="Winter", description="Cold"),
        CharacterTheme(id="t2", character_id=character.id, name="Festival: night"),
    ]
    variants = [
        ThemeVariant(id="v1", theme_id="t1", character_id=character.id, prompt="add snow"),
        ThemeVariant(id="v2", theme_id="t1", character_id=character.id, prompt="add snow"),
        ThemeVariant(id="v3", theme_id="t2", character_id=character.id, prompt="lanterns"),
        ThemeVariant(
            id="v4",
            theme_id="t2",
            character_id=character.id,
            prompt="fireworks",
            image_url="https://images.example/v4.png",
        ),
    ]
    return character, themes, variants


def _images(*, link_last: bool = True) -> list[AssetImage]:
    images = [
        AssetImage("v1", _image((10, 20, 200)), None),
        AssetImage("v2", _image((10, 200, 20), fmt="JPEG"), None),
        AssetImage("v3", _image((250, 250, 0), fmt="WEBP"), None),
    ]
    if link_last:
        images.append(AssetImage("v4", None, "https://images.example/v4.png"))
    else:
        images.append(AssetImage("v4", _image((0, 0, 0)), None))
    return images


def _v3(packaging: Any, *, link_last: bool = True) -> tuple[dict[str, Any], dict[str, bytes]]:
    character, themes, variants = _character()
    return v3_card(
        character,
        themes,
        variants,
        creator="Storm Captain",
        portrait=PORTRAIT,
        images=_images(link_last=link_last),
        packaging=packaging,
        created=1_700_000_000,
        modified=1_800_000_000,
    )


def _v3_png(*, link_last: bool = True) -> bytes:
    character, themes, variants = _character()
    card, _ = _v3("png", link_last=link_last)
    v2 = card_from_character(character, themes, variants, creator="Storm Captain")
    return card_png(v2_backfill(v2), PORTRAIT, v3=card)


def _chunks(png: bytes) -> dict[str, Any]:
    """The JSON of each tEXt chunk of a PNG, read by hand (no Pillow: its text limit is 1 MB)."""
    found, pos = {}, 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"tEXt":
            key, _, body = png[pos + 8 : pos + 8 + length].partition(b"\0")
            found[key.decode()] = json.loads(base64.b64decode(body))
        pos += 12 + length
    return found


def _reason(exc: pytest.ExceptionInfo[InvalidInputError]) -> str | None:
    return exc.value.reason_key


# -- the schema and the spec's example --------------------------------------------------------


def test_spec_example_validates_against_the_v3_schema():
    """The fixture built from the spec's text is a valid V3 card for the schema."""
    assert list(SCHEMA.iter_errors(SPEC_EXAMPLE)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec",), "chara_card_v2"),
        (("spec_version",), 3.0),
        (("data", "group_only_greetings"), None),
        (
            ("data", "assets"),
            [{"type": "icon", "uri": "ftp://x/y.png", "name": "main", "ext": "png"}],
        ),
        (
            ("data", "assets"),
            [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": ".PNG"}],
        ),
        (
            ("data", "assets"),
            [
                {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"},
                {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"},
            ],
        ),
        (("data", "creation_date"), "yesterday"),
        (("data", "charbot"), {}),
    ],
)
def test_schema_rejects_what_the_spec_forbids(path: tuple[str, ...], value: Any):
    """Wrong spec/version, a missing required field, a URI or ext the spec disallows, two main
    icons, a non-numeric date, or an own field in data all fail the schema."""
    card = json.loads(json.dumps(SPEC_EXAMPLE))
    target = card
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    assert list(SCHEMA.iter_errors(card)) != []


def test_spec_example_imports_as_json_and_as_png():
    """The spec's example reads: its emotion becomes a variant, the link and the user icon are
    skipped; in a PNG, ``ccdefault:`` is the PNG's own picture."""
    card = parse_card(json.dumps(SPEC_EXAMPLE).encode(), "example.json")
    assert card.name == "Spec Example"
    assert card.description.startswith("Spec Example is the character")
    assert card.image is None  # ccdefault: in a JSON file has no picture to point at
    assert [(a.theme, a.prompt, a.mime) for a in card.assets] == [
        ("Expressions", "happy", "image/png")
    ]
    assert card.skipped_assets == 3  # the JSON's ccdefault: icon, the https link, the user icon
    info = PngInfo()
    info.add_text("ccv3", base64.b64encode(json.dumps(SPEC_EXAMPLE).encode()).decode())
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(out, format="PNG", pnginfo=info)
    from_png = parse_card(out.getvalue(), "example.png")
    assert from_png.image is not None
    assert from_png.image_mime == "image/png"
    assert len(from_png.assets) == 1
    assert from_png.skipped_assets == 2


# -- export -----------------------------------------------------------------------------------


def test_v3_png_carries_the_spec_fields_and_every_variant():
    """The ``ccv3`` chunk passes the schema, lists the portrait as icon/main and each filed
    variant as an asset named by theme and instruction; the ``chara`` chunk beside it is V2
    with the spec's warning; both repeat the V1 fields at the top level."""
    chunks = _chunks(_v3_png())
    v3, v2 = chunks["ccv3"], chunks["chara"]
    assert list(SCHEMA.iter_errors(v3)) == []
    assert v3["spec"] == "chara_card_v3"
    assert v3["spec_version"] == "3.0"
    assets = v3["data"]["assets"]
    assert assets[0] == {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}
    others = assets[1:]
    assert [a["name"] for a in others] == [
        "Winter: add snow",
        "Winter: add snow (2)",
        "Festival: night: lanterns",
        "Festival: night: fireworks",
    ]
    assert [a["ext"] for a in others] == ["png", "jpg", "webp", "png"]
    assert all(a["type"] == "other" for a in others)
    assert others[0]["uri"].startswith("data:image/png;base64,")
    assert others[3]["uri"] == "https://images.example/v4.png"
    assert v2["spec"] == "chara_card_v2"
    assert v2["data"]["creator_notes"].startswith(BACKFILL_NOTE)
    for card in (v3, v2):
        for field in V1_FIELDS:
            assert card[field] == card["data"][field], field
    assert v3["data"]["creation_date"] == 1_700_000_000


def test_v2_export_repeats_the_v1_fields_at_the_top_level():
    """A V1-only reader (top-level fields) sees the same character as a V2 reader."""
    character, themes, variants = _character()
    card = card_from_character(character, themes, variants, creator="x")
    assert card["name"] == "Mira Vale"
    assert card["description"].startswith("A lighthouse keeper")
    assert card["personality"] == "stubborn, warm"
    assert card["scenario"] == "Raised on a storm-wrecked island."
    assert card["first_mes"]


def test_charx_holds_card_json_and_the_images_by_embeded_uri():
    """The zip has card.json at its root and the images under assets/{type}/images/, each
    named by an ``embeded://`` URI (the spec's spelling)."""
    card, files = _v3("charx", link_last=False)
    archive = zipfile.ZipFile(io.BytesIO(write_charx(card, files)))
    names = archive.namelist()
    assert names[0] == "card.json"
    assert "assets/icon/images/main.png" in names
    assert sorted(n for n in names if n.startswith("assets/other/images/")) == [
        "assets/other/images/001.png",
        "assets/other/images/002.jpg",
        "assets/other/images/003.webp",
        "assets/other/images/004.png",
    ]
    inner = json.loads(archive.read("card.json"))
    assert list(SCHEMA.iter_errors(inner)) == []
    uris = [a["uri"] for a in inner["data"]["assets"]]
    assert uris[0] == "embeded://assets/icon/images/main.png"
    assert all(u.startswith("embeded://") for u in uris)
    for uri in uris:
        assert archive.read(uri.removeprefix("embeded://"))


# -- import -----------------------------------------------------------------------------------


def test_v3_png_round_trip_keeps_themes_and_variants():
    """Re-reading the V3 PNG gives the portrait and each embedded variant under its theme with
    its full instruction; the linked one is skipped (links are never fetched)."""
    card = parse_card(_v3_png(), "mira.v3.card.png")
    assert card.name == "Mira Vale"
    assert card.from_charbot
    assert card.image is not None
    assert card.themes == ["Winter", "Festival: night"]
    assert [(a.theme, a.prompt, a.mime) for a in card.assets] == [
        ("Winter", "add snow", "image/png"),
        ("Winter", "add snow", "image/jpeg"),
        ("Festival: night", "lanterns", "image/webp"),
    ]
    assert card.skipped_assets == 1


def test_charx_round_trip_keeps_the_portrait_and_every_variant():
    """Reading the .charx back gives the portrait (icon/main) and all four variants."""
    card, files = _v3("charx", link_last=False)
    parsed = parse_card(write_charx(card, files), "mira.charx")
    assert parsed.image == PORTRAIT
    assert parsed.image_mime == "image/png"
    assert [(a.theme, a.prompt) for a in parsed.assets] == [
        ("Winter", "add snow"),
        ("Winter", "add snow"),
        ("Festival: night", "lanterns"),
        ("Festival: night", "fireworks"),
    ]
    assert parsed.skipped_assets == 0


def test_ccv3_chunk_wins_over_chara():
    """With both chunks present the V3 card is read, as the spec says."""
    old = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Old", "description": "d"},
    }
    new = {**SPEC_EXAMPLE, "data": {**SPEC_EXAMPLE["data"], "name": "New"}}
    info = PngInfo()
    info.add_text("chara", base64.b64encode(json.dumps(old).encode()).decode())
    info.add_text("ccv3", base64.b64encode(json.dumps(new).encode()).decode())
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG", pnginfo=info)
    assert parse_card(out.getvalue(), "both.png").name == "New"


def test_foreign_assets_are_filed_by_type_and_non_images_skipped():
    """Another tool's emotions and backgrounds become variants filed by their type; a sound and
    an unreadable data URL are skipped."""
    pic = base64.b64encode(_image((9, 9, 9))).decode()
    card = json.loads(json.dumps(SPEC_EXAMPLE))
    card["data"]["assets"] = [
        {"type": "emotion", "uri": f"data:image/png;base64,{pic}", "name": "sad", "ext": "png"},
        {"type": "background", "uri": f"data:image/png;base64,{pic}", "name": "city", "ext": "png"},
        {"type": "x_voice", "uri": f"data:image/png;base64,{pic}", "name": "", "ext": "png"},
        {
            "type": "other",
            "uri": "data:audio/mpeg;base64,SUQzBAAAAAAA",
            "name": "song",
            "ext": "mp3",
        },
        {"type": "other", "uri": "data:image/png;base64,%%%", "name": "bad", "ext": "png"},
        "not an asset",
    ]
    parsed = parse_card(json.dumps(card).encode(), "c.json")
    assert [(a.theme, a.prompt) for a in parsed.assets] == [
        ("Expressions", "sad"),
        ("Backgrounds", "city"),
        ("Imported", "x_voice"),
    ]
    assert parsed.themes == ["Expressions", "Backgrounds", "Imported"]
    assert parsed.skipped_assets == 3


def test_too_many_assets_are_refused():
    """More assets than any character could hold is refused up front."""
    card = json.loads(json.dumps(SPEC_EXAMPLE))
    card["data"]["assets"] = [
        {"type": "other", "uri": "ccdefault:", "name": "x", "ext": "png"}
    ] * 1001
    with pytest.raises(InvalidInputError) as exc:
        parse_card(json.dumps(card).encode(), "c.json")
    assert _reason(exc) == "invalid.card.field_too_long"


# -- hostile .charx files ---------------------------------------------------------------------


def _zip(
    entries: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_STORED
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def _card_json(*uris: str) -> bytes:
    card = json.loads(json.dumps(SPEC_EXAMPLE))
    card["data"]["assets"] = [
        {
            "type": "icon" if i == 0 else "other",
            "uri": u,
            "name": "main" if i == 0 else f"a{i}",
            "ext": "png",
        }
        for i, u in enumerate(uris)
    ]
    return json.dumps(card).encode()


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return info


@pytest.mark.parametrize(
    "entries",
    [
        [("card.json", _card_json()), ("../escape.png", PORTRAIT)],
        [("card.json", _card_json()), ("assets/../../escape.png", PORTRAIT)],
        [("card.json", _card_json()), ("/etc/passwd", b"x")],
        [("card.json", _card_json()), ("C:/Windows/evil.png", b"x")],
        [("card.json", _card_json()), ("assets\\..\\evil.png", b"x")],
        [("card.json", _card_json()), (_symlink("assets/icon/images/main.png"), b"/etc/passwd")],
        [("card.json", _card_json()), ("card.json", _card_json())],
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "drive", "backslash", "symlink", "duplicate"],
)
@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_charx_with_an_escaping_path_is_refused(entries):
    """Path traversal, absolute paths, drive letters, backslashes, symlinks and duplicate names
    are refused before anything is read."""
    with pytest.raises(InvalidInputError) as exc:
        parse_card(_zip(entries), "evil.charx")
    assert _reason(exc) == "invalid.charx.unsafe_path"


def test_charx_with_ten_thousand_entries_is_refused():
    """10,000 entries (more than 1,000) are refused from the directory alone."""
    entries = [("card.json", _card_json())] + [
        (f"assets/other/x{i}.txt", b"") for i in range(10_000)
    ]
    with pytest.raises(InvalidInputError) as exc:
        parse_card(_zip(entries), "many.charx")
    assert _reason(exc) == "invalid.charx.too_many_entries"
    assert MAX_ENTRIES == 1000


@pytest.mark.parametrize("size_mb", [2, 20])
def test_zip_bomb_is_refused_before_inflating(size_mb: int):
    """An entry that inflates far past its size (ratio, per-entry or total) is refused."""
    bomb = b"\0" * (size_mb * 1024 * 1024)
    data = _zip(
        [("card.json", _card_json()), ("assets/other/images/bomb.png", bomb)], zipfile.ZIP_DEFLATED
    )
    assert len(data) < 1024 * 1024
    with pytest.raises(InvalidInputError) as exc:
        parse_card(data, "bomb.charx")
    assert _reason(exc) == "invalid.charx.too_big_inflated"


def test_many_moderate_entries_past_the_total_are_refused():
    """Entries each within limits but together past the total inflated size are refused."""
    rng = random.Random(18)
    block = bytes(rng.getrandbits(8) if i % 40 == 0 else 0 for i in range(1 << 20))
    chunk = block * 8  # 8 MB inflating ~17×: within the per-entry size and ratio
    entries = [("card.json", _card_json())]
    entries += [(f"assets/other/images/{i}.png", chunk) for i in range(9)]  # 72 MB in all
    data = _zip(entries, zipfile.ZIP_DEFLATED)
    assert len(data) < 8 * 1024 * 1024
    with pytest.raises(InvalidInputError) as exc:
        parse_card(data, "big.charx")
    assert _reason(exc) == "invalid.charx.too_big_inflated"


def test_encrypted_entry_is_refused():
    """An entry flagged as encrypted is refused."""
    data = bytearray(_zip([("card.json", _card_json())]))
    # set bit 0 of the general purpose flag in the local header and the central directory
    data[6] |= 1
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 1
    with pytest.raises(InvalidInputError) as exc:
        parse_card(bytes(data), "locked.charx")
    assert _reason(exc) == "invalid.charx.encrypted"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04 not really a zip", "invalid.card.not_a_card"),
        (_zip([("readme.txt", b"hello")]), "invalid.card.not_a_card"),
        (_zip([("card.json", b"{not json")]), "invalid.card.bad_json"),
    ],
    ids=["not-zip", "no-card-json", "bad-json"],
)
def test_broken_charx_is_refused(data: bytes, reason: str):
    """A damaged zip, a zip without card.json, or unreadable JSON is refused clearly."""
    with pytest.raises(InvalidInputError) as exc:
        parse_card(data, "x.charx")
    assert _reason(exc) == reason


def test_missing_and_outside_entries_are_skipped_not_read():
    """An asset naming an entry that is not there is skipped; nothing outside the zip is read."""
    data = _zip(
        [
            (
                "card.json",
                _card_json(
                    "embeded://assets/icon/images/main.png",
                    "embeded://nope.png",
                    "file:///etc/passwd",
                ),
            ),
            ("assets/icon/images/main.png", PORTRAIT),
        ]
    )
    parsed = parse_card(data, "x.charx")
    assert parsed.image == PORTRAIT
    assert parsed.assets == []
    assert parsed.skipped_assets == 2


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("assets/icon/images/main.png", True),
        ("card.json", True),
        ("assets/", True),
        ("../x", False),
        ("a/../../x", False),
        ("a//b", False),
        ("./a", False),
        ("/a", False),
        ("c:/a", False),
        ("a\\b", False),
        ("a\0b", False),
        ("", False),
    ],
)
def test_safe_path(name: str, ok: bool):
    """Only relative forward-slash paths without empty, . or .. parts are accepted."""
    assert safe_path(name) is ok


def _noise_png(side: int) -> bytes:
    rng = random.Random(side)
    image = Image.frombytes(
        "RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side * side * 3))
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_png_naming_its_picture_many_times_is_refused():
    """``ccdefault:`` icons repeated until the images add up past the limit are refused (each
    would be stored as a variant)."""
    picture = _noise_png(512)
    count = 64 * 1024 * 1024 // len(picture) + 2
    card = json.loads(json.dumps(SPEC_EXAMPLE))
    card["data"]["assets"] = [
        {"type": "icon", "uri": "ccdefault:", "name": f"i{n}", "ext": "png"} for n in range(count)
    ]
    info = PngInfo()
    info.add_text("ccv3", base64.b64encode(json.dumps(card).encode()).decode())
    with Image.open(io.BytesIO(picture)) as img:
        out = io.BytesIO()
        img.save(out, format="PNG", pnginfo=info)
    with pytest.raises(InvalidInputError) as exc:
        parse_card(out.getvalue(), "many.png")
    assert _reason(exc) == "invalid.card.images_too_large"


def test_a_charx_naming_one_entry_many_times_is_refused():
    """One 1 MB entry named by 100 assets would be 100 MB of images: refused."""
    image = _noise_png(600)
    uris = ["embeded://assets/icon/images/main.png"] + ["embeded://assets/other/images/x.png"] * 100
    data = _zip(
        [
            ("card.json", _card_json(*uris)),
            ("assets/icon/images/main.png", PORTRAIT),
            ("assets/other/images/x.png", image),
        ]
    )
    with pytest.raises(InvalidInputError) as exc:
        parse_card(data, "same.charx")
    assert _reason(exc) == "invalid.card.images_too_large"


def test_a_directory_declaring_too_many_entries_is_refused_before_parsing():
    """The end record's entry count is checked before zipfile reads the directory."""
    data = bytearray(_zip([("card.json", _card_json())]))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = struct.pack("<HH", 5000, 5000)
    with pytest.raises(InvalidInputError) as exc:
        parse_card(bytes(data), "liar.charx")
    assert _reason(exc) == "invalid.charx.too_many_entries"


def test_nul_characters_leave_asset_names_and_types():
    """PostgreSQL refuses NUL in text: an asset's name and type lose them."""
    pic = base64.b64encode(_image((9, 9, 9))).decode()
    card = json.loads(json.dumps(SPEC_EXAMPLE))
    card["data"]["assets"] = [
        {"type": "emo\0tion", "uri": f"data:image/png;base64,{pic}", "name": "sa\0d", "ext": "png"},
        {"type": "\0", "uri": f"data:image/png;base64,{pic}", "name": "\0", "ext": "png"},
    ]
    parsed = parse_card(json.dumps(card).encode(), "c.json")
    assert [(a.theme, a.prompt) for a in parsed.assets] == [
        ("Expressions", "sad"),
        ("Imported", "image"),
    ]
