"""End to end: what others see of a member. A profile that is not public is shown to no one
else, and the member's Discord id appears in nothing shown to others (gallery cards, showcase
posts, character exports, profile refusals), even when their username was made from it."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.i18n import Catalog
from db.models import CharacterCollection, CharacterCollectionItem, User
from tests.e2e import (
    Stack,
    bot_stack,
    requests_checked,
    wait_ephemeral_text,
    wait_reply,
)
from tests.factories import make_character, make_user

MANAGE_GUILD = 1 << 5
CATALOG = Catalog.load()
_n = itertools.count(1)


def en(key: str, **params: Any) -> str:
    """The English text of a catalog key."""
    return CATALOG.t("en", key, **params)


stack = bot_stack("e2e-privacy")


no_violations = requests_checked()


def _everything_seen(stack: Stack, ixs: list, channel_id: str) -> str:
    """Every message, embed and attachment those interactions answered, and the channel's
    messages, as one text (attachments' bytes decoded where they are JSON)."""
    parts: list[str] = []
    for ix in ixs:
        for message in ix.messages():
            parts.append(json.dumps(message))
            for attachment in message.get("attachments") or []:
                data = stack.fake.attachment_bytes(attachment["url"])
                parts.append(data.decode("utf-8", "replace"))
        parts += [json.dumps(cb.get("data") or {}) for cb in ix.callbacks]
    parts += [json.dumps(m) for m in stack.fake.channel_messages(channel_id)]
    return "\n".join(parts)


@pytest.mark.parametrize("visibility", ["private", "friends"])
async def test_a_profile_that_is_not_public_is_shown_to_no_one_else(
    stack: Stack, session_factory, visibility: str
):
    """/profile show of a private or friends-only member answers "private" to anyone else,
    with none of the profile; the member still sees their own."""
    tag = next(_n)
    owner = stack.member(f"morgan{tag}")
    viewer = stack.member(f"nimue{tag}")
    async with session_factory.begin() as s:
        await make_user(
            s, int(owner.id), display_name=f"Morgan {tag}", profile_visibility=visibility
        )
    refused = await stack.command(viewer, "profile show", {"member": owner})
    assert (await wait_ephemeral_text(refused)) == en("profile.private")
    seen = _everything_seen(stack, [refused], stack.channel["id"])
    assert f"Morgan {tag}" not in seen
    assert owner.id not in seen.replace(json.dumps(refused.payload), "")
    own = await wait_reply(await stack.command(owner, "profile show"))
    assert own["embeds"][0]["title"] == f"Morgan {tag}"


async def test_a_members_discord_id_reaches_no_one_else(stack: Stack, session_factory):
    """A member whose only name is a username made from their Discord id publishes a
    character: another member's gallery card, the showcase post, that member's export of the
    character and the owner's public collection name them as "someone", never by the id."""
    tag = next(_n)
    showcase = stack.fake.add_text_channel(stack.guild.id, f"showcase-{tag}")
    admin = stack.member(f"uther{tag}", permissions=MANAGE_GUILD)
    await wait_ephemeral_text(
        await stack.command(admin, "mod setup", {"showcase_channel": showcase["id"]})
    )
    owner = stack.member(f"igraine{tag}")
    viewer = stack.member(f"merlin{tag}")
    async with session_factory.begin() as s:
        user = await make_user(
            s,
            int(owner.id),
            username=f"discord_{owner.id}"[:30],
            display_name=None,
            allow_gallery_showcase=True,
            profile_visibility="private",
        )
        character = await make_character(s, user, name=f"Idless {tag}", tags=[f"id{tag}"])
    published = await stack.command(owner, "character publish", {"character": character.id})
    await wait_ephemeral_text(published)
    async with session_factory() as s:
        stored = await s.scalar(select(User).where(User.id == user.id))
    assert stored is not None
    assert owner.id in (stored.username or "")

    browse = await stack.command(viewer, "gallery browse", {"tag": f"id{tag}"})
    page = await wait_reply(browse)
    (card,) = page["embeds"]
    assert card["title"] == f"Idless {tag}"
    creator = next(f for f in card["fields"] if f["name"] == en("gallery.creator"))
    assert creator["value"] == "someone"
    exported = await stack.command(viewer, "character export", {"character": character.id})
    await wait_ephemeral_text(exported, timeout=15)
    refused = await stack.command(viewer, "gallery user", {"member": owner})
    assert (await wait_ephemeral_text(refused)) == en("gallery.profile_private")
    posts = [m for m in stack.fake.channel_messages(showcase["id"]) if m["embeds"]]
    assert [m["embeds"][0]["title"] for m in posts] == [f"Idless {tag}"]

    async with session_factory.begin() as s:
        shelf = CharacterCollection(user_id=user.id, name=f"Shelf {tag}", is_public=True)
        s.add(shelf)
        await s.flush()
        s.add(CharacterCollectionItem(collection_id=shelf.id, character_id=character.id))
    shown = await stack.command(viewer, "collection show", {"collection": shelf.id})
    assert (await wait_reply(shown))["embeds"][0]["title"] == f"Shelf {tag}"

    seen = _everything_seen(stack, [browse, exported, refused, shown], showcase["id"])
    for ix in (browse, exported, refused, shown):
        seen = seen.replace(json.dumps(ix.payload), "")
    assert owner.id not in seen
