"""Card export and import as use cases, against the real PostgreSQL and moto's S3: the V3 PNG
and the .charx carry every variant and re-import to the same themes and variants (stored, with
thumbnails); the previous V2 export still imports; a refused file leaves no rows and no
objects, and a failure midway deletes what was stored."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from PIL import Image
from sqlalchemy import func, select

from bot.cards import card_from_character, card_png, parse_card
from bot.config import Settings
from bot.errors import InvalidInputError, StorageError
from bot.services import exporting
from bot.services.exporting import export_card
from bot.services.importing import import_card
from bot.storage.base import Storage
from bot.storage.factory import open_storage
from bot.storage.images import image_key, thumbnail_key, variant_key
from db.engine import Database
from db.models import Character, CharacterTheme, ThemeVariant, User
from tests.factories import make_user
from tests.fakes.s3 import MotoS3, moto_s3_fixture, unique_bucket

SCHEMA = Draft202012Validator(
    json.loads((Path(__file__).parent / "data" / "chara_card_v3.schema.json").read_text())
)
moto_s3 = moto_s3_fixture()


def _image(color: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 56), color).save(out, format=fmt)
    return out.getvalue()


class Rig:
    def __init__(self, db: Database, storage: Storage, s3: MotoS3, bucket: str) -> None:
        self.db, self.storage, self.s3, self.bucket = db, storage, s3, bucket

    def keys(self) -> list[str]:
        return self.s3.list_keys(self.bucket)

    async def counts(self) -> tuple[int, int, int]:
        async with self.db.read() as s:
            return (
                await s.scalar(select(func.count()).select_from(Character)) or 0,
                await s.scalar(select(func.count()).select_from(CharacterTheme)) or 0,
                await s.scalar(select(func.count()).select_from(ThemeVariant)) or 0,
            )


@pytest.fixture
async def rig(session_factory, moto_s3: MotoS3, tmp_path: Path) -> AsyncIterator[Rig]:
    bucket = moto_s3.create_bucket(unique_bucket("cards"))
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        s3_bucket=bucket,
        s3_endpoint_url=moto_s3.endpoint_url,
        s3_region="us-east-1",
    )
    async with open_storage(settings) as storage:
        yield Rig(Database(session_factory), storage, moto_s3, bucket)


async def _seed(rig: Rig) -> tuple[User, Character]:
    """A member's character with a stored portrait and three stored variants in two themes."""
    async with rig.db.transaction() as s:
        user = await make_user(s, display_name="Storm Captain")
        character = Character(
            user_id=user.id,
            name="Mira Vale",
            description="A lighthouse keeper who collects storms.",
            prompt="portrait of a lighthouse keeper",
            style_type="fantasy",
            personality=["stubborn", "warm"],
            background="Raised on a storm-wrecked island.",
            tags=["sea"],
            generation_status="completed",
            meta={"artStyle": "fantasy"},
        )
        s.add(character)
        await s.flush()
        key = image_key(character.id)
        url = await rig.storage.put(key, _image((200, 40, 90)), "image/png")
        character.image_url = url
        character.meta = {**character.meta, "imageKey": key, "thumbnailKey": thumbnail_key(key)}
        # rows of one transaction share now(): distinct times keep "oldest first" one order
        start = datetime.now(UTC)
        themes = [
            CharacterTheme(
                character_id=character.id, name=n, created_at=start + timedelta(seconds=i)
            )
            for i, n in enumerate(("Winter", "Night"))
        ]
        s.add_all(themes)
        await s.flush()
        plan = [
            (themes[0], "add snow", "PNG"),
            (themes[0], "scarf", "JPEG"),
            (themes[1], "stars", "PNG"),
        ]
        for n, (theme, prompt, fmt) in enumerate(plan):
            vkey = variant_key(character.id, theme.name, "png" if fmt == "PNG" else "jpg")
            mime = "image/png" if fmt == "PNG" else "image/jpeg"
            vurl = await rig.storage.put(vkey, _image((n * 60, 100, 200), fmt), mime)
            s.add(
                ThemeVariant(
                    theme_id=theme.id,
                    character_id=character.id,
                    prompt=prompt,
                    image_url=vurl,
                    meta={"imageKey": vkey},
                    created_at=start + timedelta(10 + n),
                )
            )
    return user, character


async def _shape(rig: Rig, character_id: str) -> list[tuple[str, list[str]]]:
    """The character's themes (oldest first) with their variants' instructions."""
    async with rig.db.read() as s:
        themes = (
            await s.scalars(
                select(CharacterTheme)
                .where(CharacterTheme.character_id == character_id)
                .order_by(CharacterTheme.created_at)
            )
        ).all()
        out = []
        for theme in themes:
            prompts = (
                await s.scalars(
                    select(ThemeVariant.prompt)
                    .where(ThemeVariant.theme_id == theme.id)
                    .order_by(ThemeVariant.created_at)
                )
            ).all()
            out.append((theme.name, list(prompts)))
    return out


def _ccv3(png: bytes) -> dict[str, Any]:
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"tEXt":
            key, _, body = png[pos + 8 : pos + 8 + length].partition(b"\0")
            if key == b"ccv3":
                return json.loads(base64.b64decode(body))
        pos += 12 + length
    raise AssertionError("no ccv3 chunk")


async def _imported(rig: Rig, user: User, name: str, data: bytes) -> Character:
    card = parse_card(data, name)
    imported = await import_card(rig.db, rig.storage, user.id, card)
    return imported.character


async def _check_stored(rig: Rig, character_id: str) -> None:
    """The imported portrait and every variant image and thumbnail are in the bucket."""
    keys = set(rig.keys())
    async with rig.db.read() as s:
        character = await s.get(Character, character_id)
        variants = (
            await s.scalars(select(ThemeVariant).where(ThemeVariant.character_id == character_id))
        ).all()
    assert character is not None
    assert {character.meta["imageKey"], character.meta["thumbnailKey"]} <= keys
    for v in variants:
        assert {v.meta["imageKey"], v.meta["thumbnailKey"]} <= keys
        assert v.meta["imported"] is True
        assert v.image_url
        assert v.thumbnail_url


async def test_v3_png_export_lists_every_variant_and_reimports_the_same(rig: Rig):
    """The V3 PNG passes the schema with the portrait and three variant assets; importing it
    gives a character with the same themes and variants, all stored with thumbnails."""
    user, original = await _seed(rig)
    export = await export_card(rig.db, rig.storage, original.id, user.id, "card_v3")
    [(filename, png)] = export.files
    assert filename == "Mira_Vale.v3.card.png"
    assert export.linked == 0
    card = _ccv3(png)
    assert list(SCHEMA.iter_errors(card)) == []
    assets = card["data"]["assets"]
    assert [(a["type"], a["name"]) for a in assets] == [
        ("icon", "main"),
        ("other", "Winter: add snow"),
        ("other", "Winter: scarf"),
        ("other", "Night: stars"),
    ]
    copy = await _imported(rig, user, filename, png)
    assert copy.id != original.id
    assert await _shape(rig, copy.id) == await _shape(rig, original.id)
    assert await _shape(rig, copy.id) == [("Winter", ["add snow", "scarf"]), ("Night", ["stars"])]
    await _check_stored(rig, copy.id)


async def test_charx_export_reimports_the_same(rig: Rig):
    """The .charx holds card.json and the images; importing it gives the same themes and
    variants, and the portrait comes from the icon/main asset."""
    user, original = await _seed(rig)
    export = await export_card(rig.db, rig.storage, original.id, user.id, "charx")
    [(filename, data)] = export.files
    assert filename == "Mira_Vale.charx"
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len([n for n in names if n.startswith("assets/other/images/")]) == 3
    copy = await _imported(rig, user, filename, data)
    assert await _shape(rig, copy.id) == await _shape(rig, original.id)
    await _check_stored(rig, copy.id)
    stored = await rig.storage.get(copy.meta["imageKey"])
    assert Image.open(io.BytesIO(stored)).size == (40, 56)


async def test_card_v2_export_is_unchanged_and_the_previous_export_still_imports(rig: Rig):
    """card_v2 gives the JSON and the chara PNG as before; a V2 card from the previous export
    (no top-level V1 fields) imports with its themes (its variants are links, not fetched)."""
    user, original = await _seed(rig)
    export = await export_card(rig.db, rig.storage, original.id, user.id, "card_v2")
    assert [name for name, _ in export.files] == ["Mira_Vale.json", "Mira_Vale.card.png"]
    async with rig.db.read() as s:
        themes = list((await s.scalars(select(CharacterTheme))).all())
        variants = list((await s.scalars(select(ThemeVariant))).all())
        row = await s.get(Character, original.id)
    assert row is not None
    previous = card_from_character(row, themes, variants, creator="Storm Captain")
    for field in ("name", "description", "personality", "scenario", "first_mes", "mes_example"):
        del previous[field]  # the previous export had only spec, spec_version and data
    png = card_png(previous, await rig.storage.get(row.meta["imageKey"]))
    copy = await _imported(rig, user, "old.card.png", png)
    assert copy.name == "Mira Vale"
    assert copy.personality == ["stubborn", "warm"]
    assert await _shape(rig, copy.id) == [("Winter", []), ("Night", [])]


def _evil(kind: str) -> bytes:
    out = io.BytesIO()
    card = json.dumps({"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Evil"}})
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", card)
        if kind == "traversal":
            archive.writestr("../../outside.png", _image((1, 1, 1)))
        elif kind == "entries":
            for i in range(10_000):
                archive.writestr(f"assets/other/other/{i}.txt", b"")
        else:
            archive.writestr("assets/other/images/bomb.png", b"\0" * (32 * 1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("traversal", "invalid.charx.unsafe_path"),
        ("entries", "invalid.charx.too_many_entries"),
        ("bomb", "invalid.charx.too_big_inflated"),
    ],
)
async def test_malicious_charx_is_refused_and_nothing_is_stored(rig: Rig, kind: str, reason: str):
    """Path traversal, 10,000 entries and a zip bomb are refused; no rows, no objects."""
    user, _ = await _seed(rig)
    rows, keys = await rig.counts(), rig.keys()
    with pytest.raises(InvalidInputError) as exc:
        await _imported(rig, user, "evil.charx", _evil(kind))
    assert exc.value.reason_key == reason
    assert await rig.counts() == rows
    assert rig.keys() == keys


def _charx_with(images: list[bytes]) -> bytes:
    assets = [
        {
            "type": "icon",
            "uri": "embeded://assets/icon/images/main.png",
            "name": "main",
            "ext": "png",
        }
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("assets/icon/images/main.png", _image((5, 5, 5)))
        for n, data in enumerate(images):
            path = f"assets/other/images/{n}.png"
            archive.writestr(path, data)
            assets.append(
                {"type": "other", "uri": f"embeded://{path}", "name": f"v{n}", "ext": "png"}
            )
        card = {
            "spec": "chara_card_v3",
            "spec_version": "3.0",
            "data": {"name": "X", "assets": assets},
        }
        archive.writestr("card.json", json.dumps(card))
    return out.getvalue()


async def test_a_damaged_image_refuses_the_card_before_anything_is_stored(rig: Rig):
    """An asset that looks like a PNG but does not decode is refused before the first upload."""
    user, _ = await _seed(rig)
    rows, keys = await rig.counts(), rig.keys()
    good = _image((9, 9, 9))
    damaged = good[:40] + b"\0" * 200 + good[240:]
    with pytest.raises(InvalidInputError):
        await _imported(rig, user, "x.charx", _charx_with([good, damaged]))
    assert await rig.counts() == rows
    assert rig.keys() == keys


class _FailingStorage:
    """The real storage, until the ``fail_at``-th upload."""

    def __init__(self, inner: Storage, fail_at: int) -> None:
        self.inner, self.fail_at, self.puts = inner, fail_at, 0

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        self.puts += 1
        if self.puts == self.fail_at:
            raise StorageError("disk full")
        return await self.inner.put(key, data, content_type)

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)


async def test_a_failed_upload_midway_deletes_what_was_stored(rig: Rig):
    """When the storage fails after some images landed, they are deleted and no row is made."""
    user, _ = await _seed(rig)
    rows, keys = await rig.counts(), rig.keys()
    card = parse_card(_charx_with([_image((n, n, n)) for n in range(6)]), "x.charx")
    failing = _FailingStorage(rig.storage, fail_at=9)
    with pytest.raises(StorageError):
        await import_card(rig.db, failing, user.id, card)
    assert failing.puts >= 9
    assert await rig.counts() == rows
    assert rig.keys() == keys


async def test_variants_past_the_budget_are_linked_and_not_fetched_back(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
):
    """With no room left, the V3 PNG lists the variants by their https link and says how many;
    importing it keeps the themes but fetches none of the links."""
    monkeypatch.setitem(exporting.EMBED_BUDGET, "card_v3", 0)
    user, original = await _seed(rig)
    export = await export_card(rig.db, rig.storage, original.id, user.id, "card_v3")
    assert export.linked == 3
    [(filename, png)] = export.files
    card = _ccv3(png)
    assert list(SCHEMA.iter_errors(card)) == []
    assert all(a["uri"].startswith("http") for a in card["data"]["assets"][1:])
    keys = rig.keys()
    parsed = parse_card(png, filename)
    assert parsed.skipped_assets == 3
    copy = (await import_card(rig.db, rig.storage, user.id, parsed)).character
    assert await _shape(rig, copy.id) == [("Winter", []), ("Night", [])]
    assert len(rig.keys()) == len(keys) + 2  # the portrait and its thumbnail only
