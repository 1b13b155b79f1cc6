"""End to end through the fake Discord: /character export as a .charx and a V3 PNG, uploaded
back with /character import, gives the same themes and variants; a malicious .charx is refused
with a clear message and stores nothing."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import Character, CharacterTheme, ThemeVariant
from tests.e2e import (
    Stack,
    bot_stack,
    character_thread,
    find_id,
    requests_checked,
    wait_ephemeral_text,
    wait_final,
)

stack = bot_stack("e2e-cards")


no_violations = requests_checked()


async def _character_with_variants(stack: Stack, member) -> str:
    """A new character with a variant in "Winter Outfits" and one in "Variations" (the day's
    three generations)."""
    created = await wait_final(
        await stack.command(member, "character create", {"description": "a harpist"})
    )
    character_id = find_id(created, ":fav").split(":")[1]
    await character_thread(stack, created)  # variants are posted in the character's thread
    for instruction, theme in (("winter coat", "Winter Outfits"),):
        options = {"instruction": instruction, "theme": theme, "character": character_id}
        ix = await stack.command(member, "variant create", options)
        await ix.wait_for(lambda i: "posted" in ((i.original() or {}).get("content") or ""), 15)
    ix = await stack.command(
        member, "variant create", {"instruction": "smile", "character": character_id}
    )
    await ix.wait_for(lambda i: "posted" in ((i.original() or {}).get("content") or ""), 15)
    return character_id


async def _shape(session_factory, character_id: str) -> list[tuple[str, int]]:
    async with session_factory() as s:
        rows = await s.execute(
            select(CharacterTheme.name, func.count(ThemeVariant.id))
            .outerjoin(ThemeVariant, ThemeVariant.theme_id == CharacterTheme.id)
            .where(CharacterTheme.character_id == character_id)
            .group_by(CharacterTheme.id)
            .order_by(CharacterTheme.created_at)
        )
        return [(name, count) for name, count in rows]


async def _export(stack: Stack, member, character_id: str, fmt: str) -> tuple[str, bytes]:
    ix = await stack.command(member, "character export", {"character": character_id, "format": fmt})
    await ix.wait_for(lambda i: any(m.get("attachments") for m in i.messages()), 15)
    message = next(m for m in ix.messages() if m.get("attachments"))
    assert message["flags"] & 64  # private
    [attachment] = message["attachments"]
    return attachment["filename"], stack.fake.attachment_bytes(attachment["url"])


async def _newest(session_factory) -> Character:
    async with session_factory() as s:
        return (
            await s.scalars(select(Character).order_by(Character.created_at.desc()).limit(1))
        ).one()


@pytest.mark.parametrize(
    ("fmt", "suffix", "mime"),
    [("charx", ".charx", "application/zip"), ("card_v3", ".v3.card.png", "image/png")],
)
async def test_export_and_import_round_trip(
    stack: Stack, session_factory, fmt: str, suffix: str, mime: str
):
    """The exported file, uploaded back, makes a character with the same themes and variant
    count; the reply says how many variants came with it, and no quota is used."""
    member = stack.member(f"enid-{fmt}")
    character_id = await _character_with_variants(stack, member)
    filename, data = await _export(stack, member, character_id, fmt)
    assert filename.endswith(suffix)
    if fmt == "charx":  # the default stays the V2 JSON and PNG, with a pointer to V3
        ix = await stack.command(member, "character export", {"character": character_id})
        await ix.wait_for(lambda i: any(m.get("attachments") for m in i.messages()), 15)
        message = next(m for m in ix.messages() if m.get("attachments"))
        assert sorted(a["filename"].split(".", 1)[1] for a in message["attachments"]) == [
            "card.png",
            "json",
        ]
        assert "Its 2 variants travel as images too" in message["content"]
    if fmt == "charx":
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        assert "card.json" in names
        assert len([n for n in names if n.startswith("assets/other/images/")]) == 2
    ix = await stack.command(
        member, "character import", attachments={"card": (filename, data, mime)}
    )
    posted = await wait_final(ix)
    assert "Imported 2 variants in 2 themes" in posted["content"]
    copy = await _newest(session_factory)
    assert copy.id != character_id
    assert await _shape(session_factory, copy.id) == await _shape(session_factory, character_id)
    assert await _shape(session_factory, copy.id) == [("Winter Outfits", 1), ("Variations", 1)]
    keys = set(stack.s3.list_keys(stack.bucket))
    async with session_factory() as s:
        variants = (
            await s.scalars(select(ThemeVariant).where(ThemeVariant.character_id == copy.id))
        ).all()
    assert all({v.meta["imageKey"], v.meta["thumbnailKey"]} <= keys for v in variants)


def _evil(kind: str) -> bytes:
    out = io.BytesIO()
    card = '{"spec":"chara_card_v3","spec_version":"3.0","data":{"name":"Evil"}}'
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", card)
        if kind == "traversal":
            archive.writestr("../../../etc/cron.d/evil", b"* * * * * root true")
        elif kind == "entries":
            for i in range(10_000):
                archive.writestr(f"assets/other/other/{i}.txt", b"")
        else:
            archive.writestr("assets/other/images/bomb.png", b"\0" * (40 * 1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "locale", "expected"),
    [
        ("traversal", "en-US", "points outside the archive"),
        ("entries", "ja", "中のファイルが多すぎます"),
        ("bomb", "ko", "압축 폭탄"),
    ],
)
async def test_malicious_charx_is_refused_and_nothing_is_stored(
    stack: Stack, session_factory, kind: str, locale: str, expected: str
):
    """Path traversal, 10,000 entries and a zip bomb uploaded to /character import get a clear
    refusal in the member's language; no character, theme or variant row and no stored object
    appears."""
    member = stack.member(f"mordred-{kind}", locale=locale)

    async def counts() -> list[Any]:
        async with session_factory() as s:
            return [
                await s.scalar(select(func.count()).select_from(t))
                for t in (Character, CharacterTheme, ThemeVariant)
            ]

    before, keys = await counts(), stack.s3.list_keys(stack.bucket)
    upload = {"card": (f"{kind}.charx", _evil(kind), "application/zip")}
    ix = await stack.command(member, "character import", attachments=upload)
    text = await wait_ephemeral_text(ix)
    assert expected in text
    assert "Traceback" not in text
    assert await counts() == before
    assert stack.s3.list_keys(stack.bucket) == keys
