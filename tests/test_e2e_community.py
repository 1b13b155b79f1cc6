"""End to end: gallery, showcase, moderation, settings, profiles and collections through the
real discord.py against the fake Discord."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.i18n import Catalog
from db.bot_models import ShowcasePost
from db.models import Character, User, UserProfile
from tests.e2e import (
    Stack,
    bot_stack,
    custom_ids,
    wait_ephemeral_text,
    wait_reply,
    wait_update,
)
from tests.factories import make_character, make_user
from tests.fakes.discord.members import join_guild
from tests.fakes.discord.state import MANAGE_MESSAGES

MANAGE_GUILD = 1 << 5
CATALOG = Catalog.load()
_n = itertools.count(1)


def en(key: str, **params) -> str:
    """The English text of a catalog key."""
    return CATALOG.t("en", key, **params)


stack = bot_stack("e2e-community")


# -- helpers -----------------------------------------------------------------------------------


async def user_of(session_factory, member, **overrides) -> User:
    """The member's user row, inserted the way the bot would find it."""
    async with session_factory.begin() as s:
        return await make_user(s, int(member.id), **overrides)


async def character_of(session_factory, user, **overrides) -> Character:
    """A completed character of ``user``."""
    async with session_factory.begin() as s:
        return await make_character(s, user, **overrides)


async def reply(ix) -> dict:
    """The message the bot answered with."""
    return await wait_reply(ix)


async def browse(stack: Stack, member, **options) -> tuple[dict, list[str]]:
    """Run /gallery browse; the reply and the titles of its cards."""
    message = await reply(await stack.command(member, "gallery browse", options))
    return message, [e["title"] for e in message["embeds"]]


async def click(stack: Stack, member, message: dict, custom_id: str) -> tuple[dict, list[str]]:
    """Press a button; the updated message and its card titles."""
    ix = await stack.fake.click(member, message, custom_id)
    await ix.acknowledged(timeout=3)
    await wait_update(ix)
    updated = stack.fake.message(message["id"])
    return updated, [e["title"] for e in updated["embeds"]]


def button(message: dict, prefix: str) -> str:
    """The custom_id of the Previous ("p") or Next ("n") gallery button."""
    return next(c for c in custom_ids(message) if c.startswith(prefix))


# -- 1. gallery and showcase -------------------------------------------------------------------


async def test_published_character_reaches_gallery_and_showcase_others_never_do(
    stack: Stack, session_factory
):
    """A member who opted in publishes: the card is in another member's /gallery browse and in
    the showcase channel; private, suspended-owner and opted-out characters are in neither."""
    tag = f"gal{next(_n)}"
    showcase = stack.fake.add_text_channel(stack.guild.id, f"showcase-{tag}")
    admin = stack.member(f"arthur{tag}", permissions=MANAGE_GUILD)
    setup = await stack.command(admin, "mod setup", {"showcase_channel": showcase["id"]})
    assert showcase["id"] in await wait_ephemeral_text(setup)

    owner = stack.member(f"tristan{tag}")
    await user_of(session_factory, owner)
    opted = await stack.command(owner, "settings", {"gallery_showcase": True})
    assert (await wait_ephemeral_text(opted)) == en("settings.saved")
    async with session_factory() as s:
        row = await s.scalar(select(User).where(User.auth0_id == f"oauth2|discord|{owner.id}"))
    assert row.allow_gallery_showcase is True
    public = await character_of(session_factory, row, name=f"Bright {tag}", tags=[tag])
    private = await character_of(session_factory, row, name=f"Secret {tag}", tags=[tag])
    published = await stack.command(owner, "character publish", {"character": public.id})
    await wait_ephemeral_text(published)

    shy_member = stack.member(f"shy{tag}")
    shy = await user_of(session_factory, shy_member)
    shy_char = await character_of(session_factory, shy, name=f"Shy {tag}", tags=[tag])
    shy_publish = await stack.command(shy_member, "character publish", {"character": shy_char.id})
    showcase_off = en("publish.showcase_off", settings=stack.mention("settings"))
    assert showcase_off in await wait_ephemeral_text(shy_publish)
    suspended = await user_of(
        session_factory,
        stack.member(f"sus{tag}"),
        allow_gallery_showcase=True,
        account_status="suspended",
    )
    await character_of(session_factory, suspended, name=f"Banned {tag}", is_public=True, tags=[tag])

    viewer = stack.member(f"isolde{tag}")
    _, titles = await browse(stack, viewer, tag=tag)
    assert titles == [f"Bright {tag}"]
    posts = [m for m in stack.fake.channel_messages(showcase["id"]) if m["embeds"]]
    assert [m["embeds"][0]["title"] for m in posts] == [f"Bright {tag}"]
    async with session_factory() as s:
        assert (await s.get(Character, private.id)).is_public is False
        assert await s.get(ShowcasePost, (shy_char.id, int(stack.guild.id))) is None


async def test_gallery_next_page_neither_repeats_nor_skips_while_new_ones_are_published(
    stack: Stack, session_factory
):
    """Page 2 via Next shows the older characters exactly once even though two newer ones were
    published after page 1 was shown; Previous goes back to page 1's characters."""
    tag = f"page{next(_n)}"
    owner = await user_of(
        session_factory, stack.member(f"gareth{tag}"), allow_gallery_showcase=True
    )
    base = datetime.now(UTC) - timedelta(hours=1)
    names = [f"{tag} #{i}" for i in range(7)]
    for i, name in enumerate(names):
        await character_of(
            session_factory,
            owner,
            name=name,
            is_public=True,
            tags=[tag],
            created_at=base + timedelta(minutes=i),
        )
    viewer = stack.member(f"viewer{tag}")
    page1, first = await browse(stack, viewer, tag=tag)
    assert first == names[::-1][:5]
    for i in (7, 8):
        await character_of(
            session_factory,
            owner,
            name=f"{tag} new {i}",
            is_public=True,
            tags=[tag],
            created_at=base + timedelta(minutes=30 + i),
        )
    page2, second = await click(stack, viewer, page1, button(page1, "gb:n"))
    assert second == names[::-1][5:]
    assert sorted(first + second) == sorted(names)
    assert any(
        c["disabled"]
        for r in page2["components"]
        for c in r["components"]
        if c["custom_id"].startswith("gb:n")
    )
    _, back = await click(stack, viewer, page2, button(page2, "gb:p"))
    assert back == first


# -- 2. moderation -----------------------------------------------------------------------------


async def test_non_moderator_is_refused_every_mod_command(stack: Stack, session_factory):
    """Without Manage Messages or the moderator role, each /mod command is refused privately
    and nothing is logged."""
    tag = f"ref{next(_n)}"
    member = stack.member(f"mordred{tag}")
    owner = await user_of(session_factory, stack.member(f"o{tag}"), allow_gallery_showcase=True)
    target = await character_of(session_factory, owner, is_public=True)
    calls = [
        ("mod setup", {}, "mod.setup_refused"),
        ("mod unpublish", {"character": target.id, "reason": "no"}, "mod.not_moderator"),
        ("mod user", {"member": member, "status": "banned", "reason": "no"}, "mod.not_moderator"),
        ("mod log", {}, "mod.not_moderator"),
    ]
    for name, options, key in calls:
        ix = await stack.command(member, name, options)
        assert (await wait_ephemeral_text(ix)) == en(key), name
        assert ix.ephemeral
    # a Manage Messages moderator may not run setup either (it decides who moderates)
    mm = stack.member(f"mm{tag}", permissions=MANAGE_MESSAGES)
    assert await wait_ephemeral_text(await stack.command(mm, "mod setup", {})) == en(
        "mod.setup_refused"
    )
    async with session_factory() as s:
        assert (await s.get(Character, target.id)).is_public is True


async def test_role_moderator_unpublishes_owner_is_dmed_and_log_lists_it(
    stack: Stack, session_factory
):
    """A moderator by role unpublishes (in this server's scope): gone from this server's gallery
    and showcase channel but still public, the owner gets a DM with the reason, and /mod log
    shows who, what and why."""
    tag = f"unp{next(_n)}"
    showcase = stack.fake.add_text_channel(stack.guild.id, f"showcase-{tag}")
    role = stack.fake.add_role(stack.guild.id, f"mods-{tag}")
    admin = stack.member(f"admin{tag}", permissions=MANAGE_GUILD)
    ix = await stack.command(
        admin, "mod setup", {"showcase_channel": showcase["id"], "moderator_role": role["id"]}
    )
    await wait_ephemeral_text(ix)
    moderator = stack.member(f"kay{tag}", roles=[role])

    owner_member = stack.member(f"bedivere{tag}")
    owner = await user_of(session_factory, owner_member, allow_gallery_showcase=True)
    character = await character_of(session_factory, owner, name=f"Rude {tag}", tags=[tag])
    await wait_ephemeral_text(
        await stack.command(owner_member, "character publish", {"character": character.id})
    )
    assert [m["embeds"][0]["title"] for m in stack.fake.channel_messages(showcase["id"])] == [
        f"Rude {tag}"
    ]
    choices = await stack.fake.autocomplete(
        moderator,
        stack.channel["id"],
        "mod unpublish",
        {"character": f"Rude {tag}"},
        focused="character",
    )
    assert [c["value"] for c in choices] == [character.id]

    ix = await stack.command(
        moderator, "mod unpublish", {"character": character.id, "reason": "spam links"}
    )
    assert (await wait_ephemeral_text(ix)) == en("mod.hidden_dm", name=f"Rude {tag}")
    async with session_factory() as s:
        assert (await s.get(Character, character.id)).is_public is True
    assert stack.fake.channel_messages(showcase["id"]) == []
    _, titles = await browse(stack, stack.member(f"v{tag}"), tag=tag)
    assert titles == []
    dms = stack.fake.dms(owner_member.id)
    assert "spam links" in dms[-1]["content"]
    assert f"Rude {tag}" in dms[-1]["content"]

    log = await reply(await stack.command(moderator, "mod log"))
    text = log["embeds"][0]["description"]
    first_line = text.splitlines()[0]
    assert first_line.startswith(en("mod.scope_tag.guild"))
    assert en("mod.action.hide") in first_line
    assert f"<@{moderator.id}>" in first_line
    assert f"Rude {tag}" in first_line
    assert "spam links" in first_line


async def test_undeliverable_dm_becomes_a_notice_with_the_next_reply(stack: Stack, session_factory):
    """When the owner can't be DM'd, the reason is shown once, with their next reply."""
    tag = f"ntc{next(_n)}"
    moderator = stack.member(f"mod{tag}", permissions=MANAGE_MESSAGES)
    owner_member = stack.member(f"lamorak{tag}")
    owner = await user_of(session_factory, owner_member, allow_gallery_showcase=True)
    character = await character_of(session_factory, owner, name=f"Loud {tag}", is_public=True)
    stack.fake.users.pop(owner_member.id)  # Discord refuses to open a DM with them
    ix = await stack.command(
        moderator, "mod unpublish", {"character": character.id, "reason": "off-topic"}
    )
    assert (await wait_ephemeral_text(ix)) == en("mod.hidden_notice", name=f"Loud {tag}")
    assert stack.fake.dms(owner_member.id) == []

    def distinct(ix) -> list[dict]:
        """The messages of a reply, each once (a deferred reply's first followup is the
        original response itself)."""
        return list({m["id"]: m for m in ix.messages()}.values())

    next_reply = await stack.command(owner_member, "collection list")
    await next_reply.wait_for(lambda i: len(distinct(i)) >= 2, 10)
    texts = [m["content"] for m in distinct(next_reply)]
    assert texts[0] == en("collection.none", command=stack.mention("collection create"))
    assert "off-topic" in texts[1]
    assert distinct(next_reply)[1]["flags"] & 64
    again = await stack.command(owner_member, "collection list")
    await wait_ephemeral_text(again)
    await asyncio.sleep(0.3)  # a notice would follow the reply at once
    assert len(distinct(again)) == 1


async def test_suspended_member_leaves_gallery_and_cannot_generate(stack: Stack, session_factory):
    """A platform moderator's /mod user status:suspended scope:platform hides their characters
    and refuses their generations; status:active brings the characters back."""
    tag = f"sus{next(_n)}"
    moderator = join_guild(stack.fake, stack.guild.id, stack.fake.owner_user)
    member = stack.member(f"agravain{tag}")
    user = await user_of(session_factory, member, allow_gallery_showcase=True)
    await character_of(session_factory, user, name=f"Gone {tag}", is_public=True, tags=[tag])
    viewer = stack.member(f"v{tag}")
    assert (await browse(stack, viewer, tag=tag))[1] == [f"Gone {tag}"]

    ix = await stack.command(
        moderator,
        "mod user",
        {"member": member, "status": "suspended", "reason": "raids", "scope": "platform"},
    )
    assert f"<@{member.id}>" in await wait_ephemeral_text(ix)
    assert (await browse(stack, viewer, tag=tag))[1] == []
    refused = await stack.command(member, "character create", {"description": "a dragon"})
    assert (await wait_ephemeral_text(refused)) == en(
        "error.account_restricted", status="suspended"
    )
    ix = await stack.command(
        moderator,
        "mod user",
        {"member": member, "status": "active", "reason": "appeal", "scope": "platform"},
    )
    await wait_ephemeral_text(ix)
    assert (await browse(stack, viewer, tag=tag))[1] == [f"Gone {tag}"]


# -- 3. settings and language ------------------------------------------------------------------


async def test_settings_language_ja_makes_replies_japanese(stack: Stack, session_factory):
    """After /settings language:ja the member's replies come from the Japanese catalog."""
    member = stack.member(f"gaheris{next(_n)}")
    ix = await stack.command(member, "settings", {"language": "ja"})
    saved = await wait_ephemeral_text(ix)
    async with session_factory() as s:
        row = await s.scalar(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
    assert row.preferred_language == "ja"
    if "collection.none" not in CATALOG.messages("ja"):
        pytest.skip("bot/locales/ja.json has no 'collection.none' yet (translations pending)")
    assert saved == CATALOG.t("ja", "settings.saved")
    listed = await wait_ephemeral_text(await stack.command(member, "collection list"))
    create = stack.mention("collection create")
    assert listed == CATALOG.t("ja", "collection.none", command=create)
    assert listed != en("collection.none", command=create)


async def test_settings_panel_selects_change_the_clickers_settings(stack: Stack, session_factory):
    """/settings alone shows five selects; picking one saves it and redraws the panel; a bad
    timezone option is refused and changes nothing."""
    member = stack.member(f"dinadan{next(_n)}")
    panel = await reply(await stack.command(member, "settings"))
    assert panel["flags"] & 64
    assert sorted(custom_ids(panel)) == sorted(
        ["settings:lang", "settings:filter", "settings:vis", "settings:show", "settings:remix"]
    )
    ix = await stack.fake.click(member, panel, "settings:vis", values=["public"])
    await ix.acknowledged(timeout=3)
    assert ix.response_type == 7
    async with session_factory() as s:
        row = await s.scalar(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
    assert row.profile_visibility == "public"
    bad = await stack.command(member, "settings", {"timezone": "Mars/Olympus"})
    assert "Mars/Olympus" in await wait_ephemeral_text(bad)
    ok = await stack.command(member, "settings", {"timezone": "Asia/Tokyo"})
    await wait_ephemeral_text(ok)
    async with session_factory() as s:
        row = await s.get(User, row.id)
    assert (row.timezone, row.profile_visibility) == ("Asia/Tokyo", "public")


# -- profiles ----------------------------------------------------------------------------------


async def test_profile_visibility_and_url_validation(stack: Stack, session_factory):
    """A private profile is refused to others; /profile edit rejects a javascript: URL and
    saves nothing; a valid edit is shown to others once the profile is public."""
    tag = next(_n)
    member = stack.member(f"elaine{tag}")
    other = stack.member(f"galahad{tag}")
    user = await user_of(session_factory, member, profile_visibility="private")
    refused = await stack.command(other, "profile show", {"member": member})
    assert (await wait_ephemeral_text(refused)) == en("profile.private")

    opened = await stack.command(member, "profile edit")
    await opened.acknowledged(timeout=3)
    assert opened.modal is not None
    custom_id = opened.modal["custom_id"]
    values = {
        "display_name": "Elaine",
        "bio": "Lady of Shalott",
        "website": "javascript:alert(1)",
        "profession": "Weaver",
    }
    bad = await stack.fake.submit_modal(member, stack.channel["id"], custom_id, values)
    assert (await wait_ephemeral_text(bad)) == en("invalid.website")
    async with session_factory() as s:
        assert await s.scalar(select(UserProfile).where(UserProfile.user_id == user.id)) is None
        assert (await s.get(User, user.id)).display_name == user.display_name

    opened = await stack.command(member, "profile edit")
    await opened.acknowledged(timeout=3)
    values["website"] = "https://shalott.example"
    good = await stack.fake.submit_modal(member, stack.channel["id"], custom_id, values)
    assert (await wait_ephemeral_text(good)) == en("profile.saved")
    await wait_ephemeral_text(
        await stack.command(member, "settings", {"profile_visibility": "public"})
    )
    shown = await reply(await stack.command(other, "profile show", {"member": member}))
    embed = shown["embeds"][0]
    assert embed["title"] == "Elaine"
    assert embed["description"] == "Lady of Shalott"
    assert "https://shalott.example" in [f["value"] for f in embed["fields"]]


# -- 5. collections ----------------------------------------------------------------------------


async def test_collections_lifecycle_with_ownership(stack: Stack, session_factory):
    """Create, add (own and a gallery character by id), show, remove, delete; another member
    can neither add to nor delete it."""
    tag = next(_n)
    member = stack.member(f"enid{tag}")
    other = stack.member(f"geraint{tag}")
    user = await user_of(session_factory, member)
    mine = await character_of(session_factory, user, name=f"Mine {tag}")
    artist = await user_of(session_factory, stack.member(f"art{tag}"), allow_gallery_showcase=True)
    theirs = await character_of(session_factory, artist, name=f"Theirs {tag}", is_public=True)

    created = await stack.command(member, "collection create", {"name": f"Best {tag}"})
    assert (await wait_ephemeral_text(created)) == en("collection.created", name=f"Best {tag}")
    choices = await stack.fake.autocomplete(
        member,
        stack.channel["id"],
        "collection add",
        {"collection": "Best"},
        focused="collection",
    )
    assert [c["name"] for c in choices] == [f"Best {tag}"]
    collection_id = choices[0]["value"]
    for character in (mine, theirs):
        ix = await stack.command(
            member, "collection add", {"collection": collection_id, "character": character.id}
        )
        assert (await wait_ephemeral_text(ix)) == en("collection.added", name=f"Best {tag}")
    shown = await reply(
        await stack.command(member, "collection show", {"collection": collection_id})
    )
    body = shown["embeds"][0]["description"]
    assert f"Mine {tag}" in body
    assert f"Theirs {tag}" in body

    sneaky = await stack.command(
        other, "collection add", {"collection": collection_id, "character": theirs.id}
    )
    assert (await wait_ephemeral_text(sneaky)) == en("collection.not_owner")
    sneaky = await stack.command(other, "collection delete", {"collection": collection_id})
    assert (await wait_ephemeral_text(sneaky)) == en("collection.not_owner")

    removable = await stack.fake.autocomplete(
        member,
        stack.channel["id"],
        "collection remove",
        {"collection": collection_id, "character": "Theirs"},
        focused="character",
    )
    assert [c["value"] for c in removable] == [theirs.id]
    ix = await stack.command(
        member, "collection remove", {"collection": collection_id, "character": theirs.id}
    )
    assert (await wait_ephemeral_text(ix)) == en("collection.removed", name=f"Best {tag}")
    shown = await reply(
        await stack.command(member, "collection show", {"collection": collection_id})
    )
    assert f"Theirs {tag}" not in shown["embeds"][0]["description"]

    ix = await stack.command(member, "collection delete", {"collection": collection_id})
    assert (await wait_ephemeral_text(ix)) == en("collection.deleted", name=f"Best {tag}")
    listed = await stack.command(member, "collection list")
    none = en("collection.none", command=stack.mention("collection create"))
    assert (await wait_ephemeral_text(listed)) == none


async def test_no_discord_rule_was_broken(stack: Stack):
    """Every request of this module passed the fake's OpenAPI and limit checks."""
    assert stack.fake.take_violations() == []
