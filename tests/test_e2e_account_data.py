"""End to end: /account export and /account delete through the real discord.py against the
fake Discord, moto's S3 and PostgreSQL, with two members whose data must never mix."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import urllib.request
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.i18n import Catalog
from bot.services.carryover import carried_for
from bot.services.member_data.collect import read_member_rows
from bot.services.member_data.plan import member_plan
from db.account_models import StorageDeletion
from db.bot_models import (
    CharacterReport,
    GuildBlockedUser,
    GuildHiddenCharacter,
    ModerationAction,
    ShowcasePost,
    UserNotice,
)
from db.models import (
    Character,
    CharacterCollection,
    CharacterCollectionItem,
    User,
    UserProfile,
)
from tests.e2e import (
    Stack,
    bot_stack,
    character_thread,
    find_id,
    requests_checked,
    wait_ephemeral_text,
    wait_final,
    wait_reply,
)
from tests.fakes.discord import FakeMember
from tests.fakes.discord.sending import ATTACHMENT_SIZE_LIMIT

MANAGE_GUILD = 1 << 5
OTHER_GUILD = 424242424242424242
CATALOG = Catalog.load()
_n = itertools.count(1)


def en(key: str, **params: Any) -> str:
    """The English text of a catalog key."""
    return CATALOG.t("en", key, **params)


stack = bot_stack("e2e-account")


no_violations = requests_checked()


@dataclass
class Member:
    """A member made through the commands, with what the test needs to find their data."""

    discord: FakeMember
    user_id: str
    character_ids: list[str]
    showcase_message_id: str


async def _user(session_factory, member: FakeMember) -> User:
    async with session_factory() as s:
        user = await s.scalar(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
    assert user is not None
    return user


async def _populate(stack: Stack, session_factory, name: str, showcase: dict) -> Member:
    """A character (portrait and thumbnail in S3), a variant of it, published to the showcase
    channel, with a profile, a collection, a notice."""
    member = stack.member(name)
    opted = await stack.command(member, "settings", {"gallery_showcase": True})
    await wait_ephemeral_text(opted)
    card = await wait_final(
        await stack.command(member, "character create", {"description": f"{name}, a bard"})
    )
    character_id = find_id(card, ":fav").split(":")[1]
    await character_thread(stack, card)
    variant = await stack.command(
        member, "variant create", {"instruction": "add a hat", "character": character_id}
    )
    await variant.wait_for(lambda i: "posted" in ((i.original() or {}).get("content") or ""), 20)
    published = await stack.command(member, "character publish", {"character": character_id})
    await wait_ephemeral_text(published)
    user = await _user(session_factory, member)
    async with session_factory.begin() as s:
        s.add(UserProfile(user_id=user.id, bio=f"bio of {name}", profession="bard"))
        s.add(
            UserNotice(
                user_id=user.id,
                key="notice.unpublished",
                params={"name": name},
                delivered_at=func.now(),
            )
        )
        s.add(CharacterCollection(user_id=user.id, name=f"{name}'s best"))
    async with session_factory() as s:
        post = await s.get(ShowcasePost, (character_id, int(stack.guild.id)))
    assert post is not None
    assert post.channel_id == int(showcase["id"])
    return Member(member, user.id, [character_id], str(post.message_id))


@pytest.fixture(scope="module")
async def pair(stack: Stack, engine):
    """Two members, Alys and Bryn, with everything; Bryn moderates Alys once; Alys' collection
    lists Bryn's public character and Bryn's lists only Bryn's own."""
    from db.engine import make_session_factory

    factory = make_session_factory(engine)
    tag = next(_n)
    showcase = stack.fake.add_text_channel(stack.guild.id, f"showcase-{tag}")
    admin = stack.member(f"admin{tag}", permissions=MANAGE_GUILD)
    await wait_ephemeral_text(
        await stack.command(admin, "mod setup", {"showcase_channel": showcase["id"]})
    )
    alys = await _populate(stack, factory, f"alys{tag}", showcase)
    bryn = await _populate(stack, factory, f"bryn{tag}", showcase)
    async with factory.begin() as s:
        mine = await s.scalar(
            select(CharacterCollection).where(CharacterCollection.user_id == alys.user_id)
        )
        s.add(CharacterCollectionItem(collection_id=mine.id, character_id=bryn.character_ids[0]))
        s.add(CharacterCollectionItem(collection_id=mine.id, character_id=alys.character_ids[0]))
        s.add(
            ModerationAction(
                guild_id=int(stack.guild.id),
                moderator_discord_id=int(bryn.discord.id),
                moderator_user_id=bryn.user_id,
                action="set_status",
                target_user_id=alys.user_id,
                reason="testing the export",
                details={"to": "active"},
            )
        )
        s.add(
            GuildBlockedUser(
                guild_id=int(stack.guild.id),
                user_id=alys.user_id,
                moderator_discord_id=int(bryn.discord.id),
                reason="too many posts",
            )
        )
        s.add(
            GuildHiddenCharacter(
                guild_id=OTHER_GUILD,
                character_id=alys.character_ids[0],
                moderator_discord_id=int(bryn.discord.id),
            )
        )
        s.add(
            CharacterReport(
                character_id=bryn.character_ids[0],
                reporter_user_id=alys.user_id,
                reason="looks like a real person",
            )
        )
    return alys, bryn, showcase


async def _rows(engine, user_id: str, discord_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of the member as the plan finds it (a fresh snapshot)."""
    from db.engine import make_session_factory

    async with make_session_factory(engine)() as s:
        plan = await member_plan(s)
        return await read_member_rows(s, plan, user_id, discord_id)


# each table's rows of a member, written out by hand (apart from the plan the bot reads from the
# schema), as the key that names a row
_BY_HAND = {
    "users": ("id", "SELECT id FROM users WHERE id = :u"),
    "user_profiles": ("id", "SELECT id FROM user_profiles WHERE user_id = :u"),
    "characters": ("id", "SELECT id FROM characters WHERE user_id = :u"),
    "character_themes": (
        "id",
        "SELECT t.id FROM character_themes t JOIN characters c ON c.id = t.character_id "
        "WHERE c.user_id = :u",
    ),
    "theme_variants": (
        "id",
        "SELECT v.id FROM theme_variants v JOIN characters c ON c.id = v.character_id "
        "WHERE c.user_id = :u",
    ),
    "generations": ("id", "SELECT id FROM generations WHERE user_id = :u"),
    "character_collections": ("id", "SELECT id FROM character_collections WHERE user_id = :u"),
    "character_collection_items": (
        "id",
        "SELECT i.id FROM character_collection_items i JOIN character_collections k "
        "ON k.id = i.collection_id WHERE k.user_id = :u",
    ),
    "user_notices": ("id", "SELECT id FROM user_notices WHERE user_id = :u"),
    "moderation_actions": (
        "id",
        "SELECT id FROM moderation_actions WHERE moderator_user_id = :u OR target_user_id = :u",
    ),
    "showcase_posts": (
        "message_id",
        "SELECT p.message_id FROM showcase_posts p JOIN characters c ON c.id = p.character_id "
        "WHERE c.user_id = :u",
    ),
    "guild_blocked_users": (
        "guild_id",
        "SELECT guild_id FROM guild_blocked_users WHERE user_id = :u",
    ),
    "guild_hidden_characters": (
        "guild_id",
        "SELECT h.guild_id FROM guild_hidden_characters h JOIN characters c "
        "ON c.id = h.character_id WHERE c.user_id = :u",
    ),
    "character_reports": ("id", "SELECT id FROM character_reports WHERE reporter_user_id = :u"),
}


async def _by_hand(engine, user_id: str) -> dict[str, set[str]]:
    from sqlalchemy import text

    out: dict[str, set[str]] = {}
    async with engine.connect() as conn:
        for table, (_, sql) in _BY_HAND.items():
            out[table] = {str(v) for v in (await conn.execute(text(sql), {"u": user_id})).scalars()}
    return out


def _zip_of(stack: Stack, message: dict) -> zipfile.ZipFile:
    attachment = message["attachments"][0]
    return zipfile.ZipFile(io.BytesIO(stack.fake.attachment_bytes(attachment["url"])))


def _keys_under(stack: Stack, character_ids: list[str]) -> list[str]:
    return [
        key
        for key in stack.s3.list_keys(stack.bucket)
        if any(key.startswith(f"characters/{c}/") for c in character_ids)
    ]


async def _export(stack: Stack, member: Member) -> tuple[dict, dict[str, Any], zipfile.ZipFile]:
    ix = await stack.command(member.discord, "account export")
    message = await wait_reply(ix, timeout=20)
    assert ix.ephemeral or message["flags"] & 64
    archive = _zip_of(stack, message)
    document = json.loads(archive.read("charbot-export.json"))
    return message, document, archive


async def test_export_holds_every_row_of_the_member_and_none_of_another(stack, pair, engine):
    """/account export answers privately with one zip: its JSON holds every row of the member
    in every table (users, profile, characters, themes, variants, generations, collections and
    items, notices, the moderation record naming them, showcase posts), the zip every stored
    image of theirs; nothing of Bryn's but the id of his public character in her collection."""
    alys, bryn, _ = pair
    message, document, archive = await _export(stack, alys)
    assert message["attachments"][0]["filename"] == "charbot-export.zip"
    tables = document["tables"]
    expected = await _rows(engine, alys.user_id, int(alys.discord.id))
    for table, rows in expected.items():
        want = sorted(json.dumps(r, sort_keys=True) for r in rows)
        got = sorted(json.dumps(r, sort_keys=True) for r in tables[table])
        assert got == want, table
    for table, ids in (await _by_hand(engine, alys.user_id)).items():
        column = _BY_HAND[table][0]
        assert ids, f"{table} holds no row of the member"
        assert {str(row[column]) for row in tables[table]} == ids, table
    assert [row["id"] for row in tables["users"]] == [alys.user_id]
    assert {row["character_id"] for row in tables["character_collection_items"]} == {
        alys.character_ids[0],
        bryn.character_ids[0],
    }
    (record,) = tables["moderation_actions"]
    assert record["target_user_id"] == alys.user_id
    assert record["moderator_user_id"] is None
    assert record["moderator_discord_id"] is None
    (block,) = tables["guild_blocked_users"]
    assert block["moderator_discord_id"] is None
    assert [r["moderator_discord_id"] for r in tables["guild_hidden_characters"]] == [None]
    assert [r["character_id"] for r in tables["character_reports"]] == [bryn.character_ids[0]]
    text = json.dumps(document)
    bryn_user = await _user_row(engine, bryn.user_id)
    for secret in (bryn.user_id, bryn.discord.id, bryn_user.username, bryn_user.email):
        assert secret not in text
    assert "bio of bryn" not in text
    stored = _keys_under(stack, alys.character_ids)
    assert len(stored) >= 4  # portrait, thumbnail, variant image and its thumbnail
    assert sorted(n for n in archive.namelist() if n.startswith("images/")) == sorted(
        f"images/{k}" for k in stored
    )
    for key in stored:
        assert archive.read(f"images/{key}") == stack.s3.get_object(stack.bucket, key)[0]
    assert not any(bryn.character_ids[0] in n for n in archive.namelist())


async def _user_row(engine, user_id: str) -> User:
    from db.engine import make_session_factory

    async with make_session_factory(engine)() as s:
        user = await s.get(User, user_id)
    assert user is not None
    return user


async def test_export_over_the_upload_limit_sends_links_that_expire(stack, pair):
    """When the zip would pass the interaction's upload limit, the reply carries the JSON alone
    (zipped) and presigned links valid for a day, which serve the very images."""
    alys, _, _ = pair
    _, _, full = await _export(stack, alys)
    whole = sum(i.compress_size for i in full.infolist())
    stack.fake.attachment_size_limit = whole - 1
    try:
        ix = await stack.command(alys.discord, "account export")
        message = await wait_reply(ix, timeout=20)
    finally:
        stack.fake.attachment_size_limit = ATTACHMENT_SIZE_LIMIT
    assert ix.payload["attachment_size_limit"] < whole
    archive = _zip_of(stack, message)
    assert archive.namelist() == ["charbot-export.json"]
    document = json.loads(archive.read("charbot-export.json"))
    images = document["images"]
    assert sorted(i["key"] for i in images) == sorted(_keys_under(stack, alys.character_ids))
    for image in images:
        assert "X-Amz-Expires=86400" in image["url"]
        served = await asyncio.to_thread(_fetch, image["url"])
        assert served == stack.s3.get_object(stack.bucket, image["key"])[0]
    assert "<t:" in message["content"]


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:  # moto on loopback
        return bytes(response.read())


async def _counts(engine, member: Member) -> dict[str, int]:
    rows = await _rows(engine, member.user_id, int(member.discord.id))
    return {table: len(found) for table, found in rows.items()}


async def test_a_wrong_word_in_the_delete_modal_changes_nothing(stack, pair, engine):
    """/account delete opens the modal; a submission with another word is refused in the
    member's language and no row, stored object or showcase post changes."""
    alys, _, _ = pair
    before = await _counts(engine, alys)
    objects = stack.s3.list_keys(stack.bucket)
    opened = await stack.command(alys.discord, "account delete")
    await opened.acknowledged(timeout=3)
    modal = opened.modal
    assert modal is not None
    assert modal["custom_id"] == f"account:delete:{alys.discord.id}"
    field = modal["components"][0]["components"][0]
    assert field["label"] == en("account.delete_label", word="DELETE")
    for wrong in ("delete me", "DELET", "删除"):
        if wrong != "delete me":  # a submitted modal is closed: the member opens it again
            reopened = await stack.command(alys.discord, "account delete")
            await reopened.acknowledged(timeout=3)
        refused = await stack.fake.submit_modal(
            alys.discord, stack.channel["id"], modal["custom_id"], {"confirm": wrong}
        )
        assert (await wait_ephemeral_text(refused)) == en("account.delete_mismatch", word="DELETE")
    assert await _counts(engine, alys) == before
    assert stack.s3.list_keys(stack.bucket) == objects
    assert stack.fake.message(alys.showcase_message_id) is not None


async def test_delete_erases_the_member_and_leaves_the_other_untouched(
    stack, pair, engine, session_factory
):
    """The right word erases Alys (blocked in this server, where /account stays open to her):
    every row (counted before, none after), every S3 object under her characters, her
    showcase post; the moderation record stays with her reference cleared; Bryn's rows,
    objects and post are exactly as before. Her next command starts a new account that still
    counts today's generations and is still blocked here."""
    alys, bryn, _ = pair
    before = await _counts(engine, alys)
    assert sum(before.values()) >= 12
    alys_rows = await _rows(engine, alys.user_id, int(alys.discord.id))
    bryn_before = await _rows(engine, bryn.user_id, int(bryn.discord.id))
    alys_objects = _keys_under(stack, alys.character_ids)
    bryn_objects = _keys_under(stack, bryn.character_ids)
    assert alys_objects
    assert bryn_objects
    used_today = alys_rows["users"][0]["daily_used"]
    assert used_today == 2

    opened = await stack.command(alys.discord, "account delete")
    await opened.acknowledged(timeout=3)
    done = await stack.fake.submit_modal(
        alys.discord, stack.channel["id"], opened.modal["custom_id"], {"confirm": " delete "}
    )
    text = await wait_ephemeral_text(done, timeout=20)
    assert text == en("account.deleted", characters=1, variants=1, posts=1)

    after = await _counts(engine, alys)
    assert sum(after.values()) == 0
    async with session_factory() as s:
        for table, rows in alys_rows.items():
            if table == "moderation_actions":
                continue
            ids = [r["id"] for r in rows if "id" in r]
            assert await _exists(s, table, ids) == [], table
        record = await s.scalar(
            select(ModerationAction).where(ModerationAction.reason == "testing the export")
        )
        assert record is not None
        assert record.target_user_id is None
        assert record.moderator_user_id == bryn.user_id
        assert await s.scalar(select(func.count()).select_from(StorageDeletion)) == 0
        assert await s.get(Character, bryn.character_ids[0]) is not None
    assert _keys_under(stack, alys.character_ids) == []
    assert _keys_under(stack, bryn.character_ids) == bryn_objects
    assert stack.fake.message(alys.showcase_message_id) is None
    assert stack.fake.message(bryn.showcase_message_id) is not None
    assert await _rows(engine, bryn.user_id, int(bryn.discord.id)) == bryn_before

    # her next command makes the new account, blocked here as the old one was
    refused = await stack.command(alys.discord, "quota")
    assert (await wait_ephemeral_text(refused)) == en("guild.blocked")
    fresh = await _user(session_factory, alys.discord)
    assert fresh.id != alys.user_id
    assert fresh.daily_used == used_today
    async with session_factory() as s:
        assert await carried_for(s, fresh.auth0_id or "") is None
        block = await s.get(GuildBlockedUser, (int(stack.guild.id), fresh.id))
        assert block is not None
        assert block.moderator_discord_id == int(bryn.discord.id)


async def _exists(session, table: str, ids: list[str]) -> list[str]:
    from sqlalchemy import text

    if not ids:
        return []
    found = await session.execute(
        text(f'SELECT id FROM "{table}" WHERE id = ANY(:ids)'), {"ids": ids}
    )
    return list(found.scalars())


async def test_delete_by_someone_who_never_used_the_bot_makes_no_account(stack, session_factory):
    """A member with no account gets the modal in their client's language; confirming says
    there is nothing to delete, and no account is made on the way."""
    newcomer = stack.member(f"newcomer{next(_n)}", locale="ja")
    opened = await stack.command(newcomer, "account delete")
    await opened.acknowledged(timeout=3)
    word = CATALOG.t("ja", "account.delete_word")
    assert opened.modal["title"] == CATALOG.t("ja", "account.delete_title")
    done = await stack.fake.submit_modal(
        newcomer, stack.channel["id"], opened.modal["custom_id"], {"confirm": word}
    )
    assert (await wait_ephemeral_text(done)) == CATALOG.t("ja", "account.delete_nothing")
    async with session_factory() as s:
        found = await s.scalar(select(User).where(User.auth0_id == f"oauth2|discord|{newcomer.id}"))
    assert found is None
