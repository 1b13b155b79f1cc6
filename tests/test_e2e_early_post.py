"""End to end: a new character's card is posted as soon as its portrait is drawn, while the
portrait is still being stored and the character saved; its buttons and thread come once it is
saved, and a failure after the post turns that same message into the failure, refunded.

The upload is held (or made to fail) by wrapping the bot's storage object's ``put``: the real
S3 storage (moto) does the upload once the test lets it go."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.errors import StorageError
from bot.services.generation.slots import SAVING_SHOWN_AT_ONCE
from db.models import Character, Generation, User
from tests.e2e import (
    Stack,
    bot_stack,
    character_thread,
    disabled_components,
    find_id,
    requests_checked,
    wait_final,
)

PNG = b"\x89PNG\r\n\x1a\n"

Put = Callable[[str, bytes, str], Awaitable[str]]


stack = bot_stack("e2e-early")


no_violations = requests_checked()


class HeldUploads:
    """The bot's storage with its uploads held until ``release``; then each goes to the real
    storage, or raises ``failure`` when one is set."""

    def __init__(self, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        assert stack.bot is not None
        storage = stack.bot.deps.storage
        assert stack.bot.deps.pipeline.runner.storage is storage
        self.real: Put = storage.put
        self.waiting = asyncio.Event()
        self.gate = asyncio.Event()
        self.failure: BaseException | None = None
        self.done: list[str] = []
        monkeypatch.setattr(storage, "put", self.put)

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        self.waiting.set()
        await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        url = await self.real(key, data, content_type)
        self.done.append(key)
        return url

    def release(self, failure: BaseException | None = None) -> None:
        self.failure = failure
        self.gate.set()


async def _rows(
    session_factory: Any, member: Any
) -> tuple[User, list[Character], list[Generation]]:
    async with session_factory() as s:
        user = (
            await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        ).one()
        characters = list(
            (await s.scalars(select(Character).where(Character.user_id == user.id))).all()
        )
        gens = list(
            (await s.scalars(select(Generation).where(Generation.user_id == user.id))).all()
        )
    return user, characters, gens


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


async def _shown(stack: Stack, ix: Any, uploads: HeldUploads) -> dict[str, Any]:
    """The card as posted while its upload is held."""
    await ix.acknowledged(timeout=3)
    await ix.wait_for(lambda i: bool((i.original() or {}).get("embeds")), timeout=10)
    await asyncio.wait_for(uploads.waiting.wait(), 5)
    shown = ix.original()
    assert shown is not None
    return dict(shown)


async def test_portrait_is_shown_before_it_is_stored_and_saved(
    stack: Stack, session_factory, monkeypatch
):
    """The card with the portrait is in the channel while the upload is held and the
    generation is not completed; its buttons are disabled and no thread is open. Once the
    upload goes through, the same message gets working buttons and the thread opens."""
    uploads = HeldUploads(stack, monkeypatch)
    keys_before = set(stack.s3.list_keys(stack.bucket))
    member = stack.member("ector")
    ix = await stack.command(member, "character create", {"description": "a grey-bearded smith"})
    shown = await _shown(stack, ix, uploads)

    assert uploads.done == []  # nothing stored yet
    assert set(stack.s3.list_keys(stack.bucket)) == keys_before
    _, characters, gens = await _rows(session_factory, member)
    assert [g.status for g in gens] == ["processing"]
    assert [c.generation_status for c in characters] == ["processing"]
    attachment = shown["attachments"][0]
    assert attachment["filename"].startswith("portrait.")
    assert stack.fake.attachment_bytes(attachment["url"]).startswith(PNG)
    assert shown["embeds"][0]["image"]["url"] == attachment["url"]
    buttons = _buttons(shown)
    assert buttons
    assert all(b.get("disabled") for b in buttons)
    assert shown["id"] not in stack.fake.threads

    uploads.release()
    message = await wait_final(ix)
    assert message["id"] == shown["id"]
    assert not disabled_components(message)
    assert find_id(message, ":fav")
    assert message["attachments"] == [attachment]  # the portrait was not sent twice
    assert await character_thread(stack, message) in stack.fake.threads
    _, characters, gens = await _rows(session_factory, member)
    assert [g.status for g in gens] == ["completed"]
    (character,) = characters
    assert character.generation_status == "completed"
    assert character.image_url
    assert character.thumbnail_url
    meta = character.meta or {}
    assert {meta["imageKey"], meta["thumbnailKey"]} <= set(uploads.done)
    assert shown["embeds"][0]["title"] == character.name


@pytest.mark.parametrize(
    ("failure", "key"),
    [
        (StorageError("S3 put failed: could not connect to the endpoint"), "error.storage"),
        (RuntimeError("the upload broke"), "error.unexpected_refunded"),
    ],
    ids=["storage", "unexpected"],
)
async def test_a_failure_after_the_post_turns_the_card_into_it_and_refunds(
    stack: Stack, session_factory, monkeypatch, failure: BaseException, key: str
):
    """The upload fails after the card was posted: that message says so (the portrait, the
    card and the buttons gone), the unit is back, no character is left, the generation is
    failed and nothing was stored."""
    uploads = HeldUploads(stack, monkeypatch)
    keys_before = set(stack.s3.list_keys(stack.bucket))
    member = stack.member(f"lot-{key.rsplit('.', 1)[-1]}")
    ix = await stack.command(member, "character create", {"description": "a northern king"})
    shown = await _shown(stack, ix, uploads)
    user, characters, _ = await _rows(session_factory, member)
    assert user.daily_used == 1
    assert len(characters) == 1

    uploads.release(failure)
    await ix.wait_for(lambda i: not (i.original() or {}).get("embeds"), timeout=10)
    message = ix.original()
    assert message is not None
    assert message["id"] == shown["id"]
    assert stack.bot is not None
    text: str = message["content"]
    catalog = stack.bot.deps.catalog
    if key == "error.storage":
        assert text == catalog.t("en", key)
    else:
        ref = text.rsplit("`", 2)[-2]
        assert text == catalog.t("en", key, ref=ref)
    assert "refunded" in text
    assert "Traceback" not in text
    assert message["attachments"] == []
    assert message["components"] == []
    assert ix.followups == []  # told once, in place
    assert shown["id"] not in stack.fake.threads
    user, characters, gens = await _rows(session_factory, member)
    assert user.daily_used == 0
    assert characters == []
    assert [g.status for g in gens] == ["failed"]
    assert set(stack.s3.list_keys(stack.bucket)) == keys_before


async def _created(stack: Stack, session_factory: Any, name: str) -> tuple[Any, Character]:
    """A member with one finished character (made before any upload is held)."""
    member = stack.member(name)
    ix = await stack.command(member, "character create", {"description": "a wandering bard"})
    await wait_final(ix)
    _, characters, _ = await _rows(session_factory, member)
    return member, characters[0]


async def test_regenerate_shows_the_new_portrait_before_it_is_saved(
    stack: Stack, session_factory, monkeypatch
):
    """/character regenerate: the new card with the new portrait is visible while its upload is
    held, its buttons disabled and the character still on its old portrait; then the buttons
    come on and the character has the new one."""
    member, before = await _created(stack, session_factory, "dagonet")
    uploads = HeldUploads(stack, monkeypatch)
    ix = await stack.command(member, "character regenerate", {"character": before.id})
    shown = await _shown(stack, ix, uploads)
    assert stack.bot is not None
    headline = stack.bot.deps.catalog.t("en", "character.regenerated", name=before.name)
    assert shown["content"].startswith(headline)
    assert all(b.get("disabled") for b in _buttons(shown))
    _, (character,), gens = await _rows(session_factory, member)
    assert [g.status for g in sorted(gens, key=lambda g: g.created_at)] == [
        "completed",
        "processing",
    ]
    assert character.image_url == before.image_url

    uploads.release()
    message = await wait_final(ix)
    assert message["id"] == shown["id"]
    assert find_id(message, ":fav")
    _, (character,), gens = await _rows(session_factory, member)
    assert {g.status for g in gens} == {"completed"}
    assert character.image_url != before.image_url
    assert (character.meta or {})["imageKey"] in uploads.done


async def test_regenerate_failing_after_the_post_says_so_and_keeps_the_character(
    stack: Stack, session_factory, monkeypatch
):
    """The new portrait's upload fails after its card was posted: the message says so, the unit
    is back, the character keeps its old portrait."""
    member, before = await _created(stack, session_factory, "lamorak")
    user, _, _ = await _rows(session_factory, member)
    used = user.daily_used
    uploads = HeldUploads(stack, monkeypatch)
    ix = await stack.command(member, "character regenerate", {"character": before.id})
    shown = await _shown(stack, ix, uploads)
    uploads.release(StorageError("S3 put failed: could not connect to the endpoint"))
    await ix.wait_for(lambda i: not (i.original() or {}).get("embeds"), timeout=10)
    message = ix.original()
    assert message is not None
    assert message["id"] == shown["id"]
    assert stack.bot is not None
    assert message["content"] == stack.bot.deps.catalog.t("en", "error.storage")
    assert message["attachments"] == []
    assert message["components"] == []
    user, (character,), gens = await _rows(session_factory, member)
    assert user.daily_used == used
    assert sorted(g.status for g in gens) == ["completed", "failed"]
    assert character.image_url == before.image_url
    assert character.generation_status == "completed"


async def test_shown_portraits_are_saved_a_few_at_a_time_and_the_next_is_not_held_back(
    stack: Stack, session_factory, monkeypatch
):
    """A burst of creates: every card is posted while the saves before it are still going on,
    and no more than SAVING_SHOWN_AT_ONCE saves run at once (before, every save ran at once
    beside the answers still arriving, and a drawn portrait waited behind them). Once the
    uploads go through, every character is saved with its thread."""
    runner = stack.bot.deps.pipeline.runner if stack.bot is not None else None
    assert runner is not None
    count = SAVING_SHOWN_AT_ONCE + 2
    if count > runner.slots.limit:  # pragma: no cover - a machine with more cores than slots
        pytest.skip("the saving lane is as wide as the generation slots here")
    uploads = HeldUploads(stack, monkeypatch)
    saving: set[str] = set()
    put = uploads.put

    async def counted(key: str, data: bytes, content_type: str) -> str:
        saving.add(key.split("/")[1])  # characters/<id>/...: one save per character
        return await put(key, data, content_type)

    monkeypatch.setattr(stack.bot.deps.storage, "put", counted)  # type: ignore[union-attr]
    members = [stack.member(f"burst{i}") for i in range(count)]
    sent = [
        await stack.command(m, "character create", {"description": f"a lantern keeper {i}"})
        for i, m in enumerate(members)
    ]
    for ix in sent:  # every card is up while the first saves are held
        await ix.wait_for(lambda i: bool((i.original() or {}).get("embeds")), timeout=15)
    await asyncio.sleep(0.3)  # a save that was not held back would have started by now
    assert len(saving) == SAVING_SHOWN_AT_ONCE

    uploads.release()
    for ix in sent:
        message = await wait_final(ix)
        assert not disabled_components(message)
        assert await character_thread(stack, message) in stack.fake.threads
    assert len(saving) == count
    for member in members:
        _, characters, gens = await _rows(session_factory, member)
        assert [g.status for g in gens] == ["completed"]
        assert [c.generation_status for c in characters] == ["completed"]
