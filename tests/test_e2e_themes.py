"""End to end: /theme list, rename, delete and /variant list, delete with their autocomplete and
the variant pager, through the real discord.py against the fake Discord."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from bot.i18n import Catalog
from db.meta import CONVERSATION_ID, IMAGE_KEY, THUMBNAIL_KEY
from db.models import Character, CharacterTheme, ThemeVariant, User
from tests.e2e import (
    Stack,
    bot_stack,
    requests_checked,
    wait_ephemeral_text,
    wait_reply,
    wait_update,
)
from tests.factories import make_character, make_theme, make_user

CATALOG = Catalog.load()
_n = itertools.count(1)


def en(key: str, **params: Any) -> str:
    """The English text of a catalog key."""
    return CATALOG.t("en", key, **params)


stack = bot_stack("e2e-themes")


no_violations = requests_checked()


async def _owner(
    session_factory, stack: Stack, member_name: str, **character: Any
) -> tuple[Any, User, Character]:
    member = stack.member(member_name)
    async with session_factory.begin() as s:
        user = await make_user(s, int(member.id))
        row = await make_character(s, user, **character)
    return member, user, row


async def _variant(
    stack: Stack, session_factory, theme: CharacterTheme, prompt: str
) -> ThemeVariant:
    """A variant with its image and thumbnail stored (its own transaction: its own time)."""
    image, thumbnail = f"variants/{theme.id}/{prompt}.png", f"variants/{theme.id}/{prompt}.webp"
    for key in (image, thumbnail):
        stack.s3.put_object(stack.bucket, key, b"x", "image/png")
    async with session_factory.begin() as s:
        variant = ThemeVariant(
            theme_id=theme.id,
            character_id=theme.character_id,
            prompt=prompt,
            image_url=f"https://images.example/{prompt}.png",
            thumbnail_url=f"https://images.example/{prompt}.webp",
            meta={IMAGE_KEY: image, THUMBNAIL_KEY: thumbnail},
        )
        s.add(variant)
    return variant


def _buttons(message: dict) -> list[dict]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


async def test_theme_list_rename_delete_with_autocomplete(stack: Stack, session_factory):
    """Create, autocomplete, list, rename; the variant theme choices come from the thread's
    character and put a new name first; delete removes the theme."""
    tag = next(_n)
    room = stack.fake.add_text_channel(stack.guild.id, f"thread-{tag}")
    member, _, character = await _owner(
        session_factory,
        stack,
        f"percival{tag}",
        name=f"Blanche {tag}",
        meta={CONVERSATION_ID: room["id"]},
    )
    created = await stack.command(
        member, "theme create", {"character": character.id, "name": "Winter"}
    )
    assert await wait_ephemeral_text(created) == en("theme.created", name="Winter")

    choices = await stack.fake.autocomplete(
        member, stack.channel["id"], "theme rename", {"theme": "win"}, focused="theme"
    )
    assert [c["name"] for c in choices] == [f"Blanche {tag} · Winter"]
    theme_id = choices[0]["value"]

    listed = await wait_reply(
        await stack.command(member, "theme list", {"character": character.id})
    )
    embed = listed["embeds"][0]
    assert embed["title"] == en("theme.list_title", name=f"Blanche {tag}")
    assert embed["description"] == en("theme.line", name="Winter", count=0)

    renamed = await stack.command(member, "theme rename", {"theme": theme_id, "new_name": "Snow"})
    assert await wait_ephemeral_text(renamed) == en("theme.renamed", name="Snow")

    in_thread = await stack.fake.autocomplete(
        member, room["id"], "variant create", {"theme": "Sn"}, focused="theme"
    )
    assert [c["value"] for c in in_thread] == ["Sn", "Snow"]
    exact = await stack.fake.autocomplete(
        member, room["id"], "variant create", {"theme": "snow"}, focused="theme"
    )
    assert [c["value"] for c in exact] == ["Snow"]
    named = await stack.fake.autocomplete(
        member,
        stack.channel["id"],
        "variant create",
        {"theme": "", "character": character.id},
        focused="theme",
    )
    assert [c["value"] for c in named] == ["Snow"]
    nowhere = await stack.fake.autocomplete(
        member, stack.channel["id"], "variant create", {"theme": "Sn"}, focused="theme"
    )
    assert nowhere == []

    deleted = await stack.command(member, "theme delete", {"theme": theme_id})
    assert await wait_ephemeral_text(deleted) == en("theme.deleted")
    async with session_factory() as s:
        assert await s.get(CharacterTheme, theme_id) is None


async def test_variant_pager_and_deletes_remove_stored_images(stack: Stack, session_factory):
    """/variant list shows the newest variant; Next and Previous page through; deleting a
    variant and then its theme removes the rows and their stored images."""
    tag = next(_n)
    member, _, character = await _owner(session_factory, stack, f"lancelot{tag}")
    async with session_factory.begin() as s:
        theme = await make_theme(s, character, name="Armour")
    older = await _variant(stack, session_factory, theme, f"older{tag}")
    newer = await _variant(stack, session_factory, theme, f"newer{tag}")

    message = await wait_reply(await stack.command(member, "variant list", {"theme": theme.id}))
    embed = message["embeds"][0]
    assert (embed["title"], embed["description"]) == ("Armour", f"newer{tag}")
    assert embed["image"]["url"] == newer.image_url
    assert embed["footer"]["text"] == en("variant.footer", id=newer.id)
    previous, following = _buttons(message)
    assert (previous["label"], previous.get("disabled")) == (en("button.previous"), True)
    assert following["label"] == en("button.next")
    assert not following.get("disabled")
    assert following["custom_id"].startswith(f"vlist:{theme.id}:n:")

    pressed = await stack.fake.click(member, message, following["custom_id"])
    await wait_update(pressed)
    paged = stack.fake.message(message["id"])
    assert paged["embeds"][0]["description"] == f"older{tag}"
    previous, following = _buttons(paged)
    assert previous["custom_id"].startswith(f"vlist:{theme.id}:p:")
    assert not previous.get("disabled")
    assert following.get("disabled") is True

    back = await stack.fake.click(member, paged, previous["custom_id"])
    await wait_update(back)
    assert stack.fake.message(message["id"])["embeds"][0]["description"] == f"newer{tag}"

    choices = await stack.fake.autocomplete(
        member, stack.channel["id"], "variant delete", {"variant": f"newer{tag}"}, focused="variant"
    )
    assert [c["value"] for c in choices] == [newer.id]
    gone = await stack.command(member, "variant delete", {"variant": newer.id})
    assert await wait_ephemeral_text(gone) == en("variant.deleted")
    keys = stack.s3.list_keys(stack.bucket)
    assert newer.meta[IMAGE_KEY] not in keys
    assert older.meta[IMAGE_KEY] in keys

    gone = await stack.command(member, "theme delete", {"theme": theme.id})
    assert await wait_ephemeral_text(gone) == en("theme.deleted")
    keys = stack.s3.list_keys(stack.bucket)
    assert older.meta[IMAGE_KEY] not in keys
    assert older.meta[THUMBNAIL_KEY] not in keys
    async with session_factory() as s:
        left = (
            await s.scalars(select(ThemeVariant.id).where(ThemeVariant.theme_id == theme.id))
        ).all()
    assert left == []


async def test_empty_theme_and_another_members_theme(stack: Stack, session_factory):
    """An empty theme says so with both buttons off; another member can neither delete the
    theme nor page a private character's variants."""
    tag = next(_n)
    member, _, character = await _owner(session_factory, stack, f"gawain{tag}")
    async with session_factory.begin() as s:
        theme = await make_theme(s, character, name="Empty")
    message = await wait_reply(await stack.command(member, "variant list", {"theme": theme.id}))
    assert message["embeds"][0]["description"] == en("variant.none")
    assert all(b.get("disabled") for b in _buttons(message))

    other = stack.member(f"mordred{tag}")
    refused = await stack.command(other, "theme delete", {"theme": theme.id})
    assert await wait_ephemeral_text(refused) == en("error.not_owner")
    hidden = await stack.command(other, "variant list", {"theme": theme.id})
    assert await wait_ephemeral_text(hidden) == en("error.not_found", what=en("thing.theme"))
