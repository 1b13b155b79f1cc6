"""A member's data without Discord: the export packed to fit an upload limit with local files
(parts, never links), erasure refused while a generation runs, storage deletions retried until
storage confirms them, and what a deleted account carries over."""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.errors import StorageError
from bot.services.accounts import get_or_create_user
from bot.services.carryover import carried_for, forget_expired
from bot.services.member_data import (
    ErasureBusyError,
    collect_member_rows,
    erase_member,
    package_export,
    pending_storage_deletions,
    purge_storage,
    sweep_leftovers,
)
from bot.storage.local import LocalStorage
from db.account_models import AccountCarryover, StorageDeletion
from db.engine import Database
from db.models import Character, Generation, User
from tests.factories import make_character, make_user


class FlakyStorage(LocalStorage):
    """Local files whose deletes fail while ``broken`` (an unreachable bucket, say)."""

    broken = True

    async def delete(self, key: str) -> None:
        if self.broken:
            raise StorageError(f"local delete {key!r} failed: storage unreachable")
        await super().delete(key)


async def _member_with_images(session_factory, storage: LocalStorage, sizes: list[int]):
    """A member with one character whose folder holds images of these sizes (the first is its
    portrait, named in its metadata; the others are only in the folder)."""
    async with session_factory.begin() as s:
        user = await make_user(s)
        character = await make_character(s, user)
    keys = [f"characters/{character.id}/{i:02d}-image.png" for i in range(len(sizes))]
    for key, size in zip(keys, sizes, strict=True):
        await storage.put(key, os.urandom(size), "image/png")
    async with session_factory.begin() as s:
        row = await s.get(Character, character.id)
        row.meta = {**(row.meta or {}), "imageKey": keys[0]}
    return user, character, keys


def _zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


async def test_local_export_over_the_limit_comes_in_parts_that_each_fit(
    session_factory, tmp_path: Path
):
    """Local files have no link to give: over the limit the zip is cut into parts, each under
    the limit; part 1's JSON says which part holds each image, and every image is in it."""
    storage = LocalStorage(tmp_path)
    user, _, keys = await _member_with_images(session_factory, storage, [3000] * 5)
    db = Database(session_factory)
    rows = await collect_member_rows(db, user.id, 1)
    limit = 8000
    package = await package_export(storage, rows, limit)
    assert package.mode == "parts"
    assert len(package.files) > 1
    assert all(len(f.data) <= limit for f in package.files)
    document = json.loads(_zip(package.files[0].data).read("charbot-export.json"))
    assert {i["key"] for i in document["images"]} == set(keys)
    for image in document["images"]:
        part = _zip(package.files[image["part"] - 1].data)
        assert part.read(image["file"]) == await storage.get(image["key"])
    assert package.image_count == len(keys)


async def test_an_image_over_the_limit_is_listed_and_left_out(session_factory, tmp_path: Path):
    """An image that alone passes the limit is named in the JSON, not sent."""
    storage = LocalStorage(tmp_path)
    user, _, keys = await _member_with_images(session_factory, storage, [500, 20_000])
    rows = await collect_member_rows(Database(session_factory), user.id, 1)
    package = await package_export(storage, rows, 8000)
    assert package.left_out == (keys[1],)
    document = json.loads(_zip(package.files[0].data).read("charbot-export.json"))
    assert {"key": keys[1], "left_out": "too large to send here"} in document["images"]


async def test_under_the_limit_one_zip_holds_everything(session_factory, tmp_path: Path):
    """Under the limit: one zip with the JSON and every image, also those no row names."""
    storage = LocalStorage(tmp_path)
    user, _, keys = await _member_with_images(session_factory, storage, [700, 800])
    rows = await collect_member_rows(Database(session_factory), user.id, 1)
    package = await package_export(storage, rows, 1 << 20)
    assert package.mode == "zip"
    (only,) = package.files
    names = _zip(only.data).namelist()
    assert sorted(names) == sorted(["charbot-export.json", *(f"images/{k}" for k in keys)])


async def test_erasure_waits_for_a_running_generation(session_factory):
    """While a generation of the member is pending or processing, erasure is refused and
    nothing is deleted."""
    async with session_factory.begin() as s:
        user = await make_user(s)
        character = await make_character(s, user)
        s.add(Generation(user_id=user.id, character_id=character.id, prompt="p", status="pending"))
    with pytest.raises(ErasureBusyError):
        await erase_member(Database(session_factory), user.id)
    async with session_factory() as s:
        assert await s.get(User, user.id) is not None
        assert await s.get(Character, character.id) is not None


async def test_storage_deletions_are_retried_until_storage_confirms(
    session_factory, tmp_path: Path
):
    """Objects are deleted after the rows' commit; while storage fails, each stays queued with
    its attempts and error, and the periodic sweep deletes them once storage answers."""
    storage = FlakyStorage(tmp_path)
    user, _, keys = await _member_with_images(session_factory, storage, [100, 200, 300])
    db = Database(session_factory)
    erasure = await erase_member(db, user.id)
    done, failed = await purge_storage(db, storage, erasure.storage_entries)
    assert (done, failed) == (0, len(erasure.storage_entries))
    assert all([await storage.exists(k) for k in keys])
    async with session_factory() as s:
        queued = (await s.scalars(select(StorageDeletion))).all()
        assert {q.key for q in queued} == set(erasure.storage_entries)
        assert all(q.attempts == 1 and "unreachable" in (q.last_error or "") for q in queued)
        assert await s.get(User, user.id) is None
    storage.broken = False
    await sweep_leftovers(db, storage)
    assert await pending_storage_deletions(db) == 0
    assert not any([await storage.exists(k) for k in keys])
    assert list((tmp_path / "characters").iterdir()) == []  # no empty folder left either


async def test_a_sanction_and_todays_count_outlive_the_account(session_factory):
    """A banned member who used 2 of today's units and deletes their account comes back banned
    with 2 used; a member with nothing to carry leaves no row; a finished day's row expires."""
    async with session_factory.begin() as s:
        banned = await make_user(s, account_status="banned", daily_used=2)
        clean = await make_user(s)
        auth0 = banned.auth0_id
    db = Database(session_factory)
    await erase_member(db, banned.id)
    await erase_member(db, clean.id)
    async with session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(AccountCarryover)) == 1
        kept = await carried_for(s, auth0 or "")
        assert kept is not None
        assert kept.expires_at is None
        assert auth0 not in json.dumps({"hash": kept.identity_hash, "blocks": kept.guild_blocks})
    async with session_factory.begin() as s:
        again = await get_or_create_user(s, int((auth0 or "").rsplit("|", 1)[1]), username_hint="x")
        assert again.account_status == "banned"
        assert again.daily_used == 2
        assert await carried_for(s, auth0 or "") is None
    async with session_factory.begin() as s:
        s.add(
            AccountCarryover(
                identity_hash="old",
                daily_used=1,
                last_reset_date=datetime.now(UTC) - timedelta(days=2),
                expires_at=datetime.now(UTC) - timedelta(days=1),
            )
        )
    async with session_factory.begin() as s:
        assert await forget_expired(s) == 1


async def test_erasure_takes_the_members_discord_id_out_of_others_rows(session_factory):
    """A variant Alys suggested in Bryn's conversation stays Bryn's without her id as its
    credit; her waiting suggestion goes, another member's stays; Bryn's export of it (before)
    names no other member either."""
    from db.models import ThemeVariant
    from tests.factories import make_theme, make_variant

    async with session_factory.begin() as s:
        alys = await make_user(s)
        bryn = await make_user(s)
        alys_id = (alys.auth0_id or "").rsplit("|", 1)[1]
        character = await make_character(
            s,
            bryn,
            meta={
                "suggestions": [
                    {"id": "a", "text": "a hat", "suggestedBy": alys_id},
                    {"id": "c", "text": "a cape", "suggestedBy": "1234"},
                ]
            },
        )
        variant = await make_variant(s, await make_theme(s, character))
        row = await s.get(ThemeVariant, variant.id)
        row.meta = {"suggestedBy": alys_id, "conversationId": "77"}
    db = Database(session_factory)
    bryn_id = int((bryn.auth0_id or "").rsplit("|", 1)[1])
    exported = json.dumps((await collect_member_rows(db, bryn.id, bryn_id)).tables)
    assert alys_id not in exported
    assert "1234" not in exported
    await erase_member(db, alys.id)
    async with session_factory() as s:
        kept = await s.get(ThemeVariant, variant.id)
        assert kept.meta == {"conversationId": "77"}
        still = await s.get(Character, character.id)
        assert [x["id"] for x in still.meta["suggestions"]] == ["c"]


async def test_a_members_scenes_are_exported_and_erased_with_their_folder(
    session_factory, tmp_path: Path
):
    """Scenes (a later table) come with the member's data: the scene row, its cast and its
    image in the export; erasure removes them and everything under ``scenes/<id>/``."""
    from db.scene_models import Scene, SceneCharacter

    storage = LocalStorage(tmp_path)
    async with session_factory.begin() as s:
        user = await make_user(s)
        character = await make_character(s, user)
        scene = Scene(user_id=user.id, setting="a tavern at night", meta={})
        s.add(scene)
        await s.flush()
        s.add(SceneCharacter(scene_id=scene.id, character_id=character.id, position=1))
        key = f"scenes/{scene.id}/picture.png"
        scene.meta = {"imageKey": key}
    await storage.put(key, b"scene image", "image/png")
    await storage.put(f"scenes/{scene.id}/variants/orphan.png", b"orphan", "image/png")
    db = Database(session_factory)
    rows = await collect_member_rows(db, user.id, 1)
    assert [r["id"] for r in rows.tables["scenes"]] == [scene.id]
    assert len(rows.tables["scene_characters"]) == 1
    package = await package_export(storage, rows, 1 << 20)
    names = _zip(package.files[0].data).namelist()
    assert f"images/{key}" in names
    assert f"images/scenes/{scene.id}/variants/orphan.png" in names
    erasure = await erase_member(db, user.id)
    assert erasure.rows["scenes"] == 1
    await purge_storage(db, storage, erasure.storage_entries)
    assert not (tmp_path / "scenes" / scene.id).exists()
    async with session_factory() as s:
        assert await s.get(Scene, scene.id) is None
