"""End to end, with two guilds: moderation in its scope. A guild's moderators change what that
guild sees only; platform moderators act everywhere; a member blocked in one guild is refused
there and nowhere else; /mod is guild-only for Manage Messages; /mod setup checks that the bot
can post in the channels it is given."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.i18n import Catalog
from db.bot_models import GuildHiddenCharacter, GuildSettings, ModerationAction
from db.models import Character, User
from tests.e2e import (
    Stack,
    bot_stack,
    custom_ids,
    wait_ephemeral_text,
    wait_final,
    wait_reply,
    wait_update,
)
from tests.e2e_guilds import add_channel, add_guild, also_member
from tests.factories import make_character, make_user
from tests.fakes.discord.members import deny_bot
from tests.fakes.discord.state import EMBED_LINKS, MANAGE_MESSAGES

MANAGE_GUILD = 1 << 5
CATALOG = Catalog.load()
_n = itertools.count(1)


def en(key: str, **params) -> str:
    """The English text of a catalog key."""
    return CATALOG.t("en", key, **params)


stack = bot_stack("e2e-scopes")


@pytest.fixture(autouse=True)
def no_violations(stack: Stack):
    """Every request of each test passes the fake's OpenAPI and limit checks."""
    yield
    assert stack.fake.take_violations() == []


# -- helpers -----------------------------------------------------------------------------------


async def user_row(session_factory, member) -> User:
    async with session_factory() as s:
        return await s.scalar(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))


async def titles_in(stack: Stack, member, channel: dict, tag: str) -> list[str]:
    """The card titles /gallery browse tag:<tag> shows ``member`` in ``channel``'s guild."""
    ix = await stack.command(member, "gallery browse", {"tag": tag}, channel_id=channel["id"])
    return [e["title"] for e in (await wait_reply(ix)).get("embeds") or []]


def posted_titles(stack: Stack, channel: dict) -> list[str]:
    return [
        m["embeds"][0]["title"] for m in stack.fake.channel_messages(channel["id"]) if m["embeds"]
    ]


async def say(stack: Stack, member, channel: dict, name: str, options: dict | None = None) -> str:
    """Run a command in ``channel``; its private text answer."""
    ix = await stack.command(member, name, options or {}, channel_id=channel["id"])
    text = await wait_ephemeral_text(ix)
    assert ix.ephemeral
    return text


class Guilds:
    """Guild A (the stack's) and guild B, each with a showcase channel set up by its admin."""

    def __init__(self, stack: Stack, tag: str) -> None:
        self.stack = stack
        self.tag = tag

    async def build(self) -> Guilds:
        s = self.stack
        self.a = s.guild
        self.general_a = s.channel
        self.b, self.general_b = await add_guild(s, f"Avalon {self.tag}")
        self.showcase_a = await add_channel(s, self.a.id, f"showcase-a-{self.tag}")
        self.showcase_b = await add_channel(s, self.b.id, f"showcase-b-{self.tag}")
        self.log_b = await add_channel(s, self.b.id, f"log-b-{self.tag}")
        admin_a = s.member(f"admina{self.tag}", permissions=MANAGE_GUILD)
        admin_b = s.fake.add_member(self.b.id, f"adminb{self.tag}", permissions=MANAGE_GUILD)
        await say(
            s, admin_a, self.general_a, "mod setup", {"showcase_channel": self.showcase_a["id"]}
        )
        await say(
            s,
            admin_b,
            self.general_b,
            "mod setup",
            {"showcase_channel": self.showcase_b["id"], "log_channel": self.log_b["id"]},
        )
        return self

    async def published_everywhere(self, session_factory, name: str):
        """A member of both guilds who showcases a public character, posted in both showcase
        channels; returns (member in A, member in B, character)."""
        s = self.stack
        owner_a = s.member(f"owner{name}")
        owner_b = also_member(s, self.b, owner_a)
        async with session_factory.begin() as db:
            user = await make_user(
                db, int(owner_a.id), allow_gallery_showcase=True, profile_visibility="public"
            )
            character = await make_character(db, user, name=name, tags=[self.tag])
        for member, channel in ((owner_a, self.general_a), (owner_b, self.general_b)):
            await say(s, member, channel, "character publish", {"character": character.id})
        assert posted_titles(s, self.showcase_a) == [name]
        assert posted_titles(s, self.showcase_b) == [name]
        return owner_a, owner_b, character


# -- acceptance 1: a guild's moderator acts in their own guild only -----------------------------


async def test_guild_b_moderator_cannot_change_what_guild_a_sees(stack: Stack, session_factory):
    """B's moderator hides a character in B only (B's gallery and showcase; A's keep it) and
    blocks a member in B only (refused in B for commands, buttons and autocomplete; /help still
    works; they still create in A); asking for the platform scope or a platform status is
    refused and changes no row."""
    tag = f"scope{next(_n)}"
    g = await Guilds(stack, tag).build()
    owner_a, owner_b, character = await g.published_everywhere(session_factory, f"Morgana {tag}")
    mod_b = stack.fake.add_member(g.b.id, f"modb{tag}", permissions=MANAGE_MESSAGES)
    viewer_a = stack.member(f"viewer{tag}")
    viewer_b = also_member(stack, g.b, viewer_a)
    assert await titles_in(stack, viewer_a, g.general_a, tag) == [f"Morgana {tag}"]
    assert await titles_in(stack, viewer_b, g.general_b, tag) == [f"Morgana {tag}"]

    hidden = await say(
        stack,
        mod_b,
        g.general_b,
        "mod unpublish",
        {"character": character.id, "reason": "spoilers"},
    )
    assert hidden == en("mod.hidden_dm", name=f"Morgana {tag}")
    assert posted_titles(stack, g.showcase_b) == []
    assert posted_titles(stack, g.showcase_a) == [f"Morgana {tag}"]
    assert await titles_in(stack, viewer_b, g.general_b, tag) == []
    assert await titles_in(stack, viewer_a, g.general_a, tag) == [f"Morgana {tag}"]
    page_b = await wait_reply(
        await stack.command(
            viewer_b, "gallery user", {"member": owner_b}, channel_id=g.general_b["id"]
        )
    )
    page_a = await wait_reply(await stack.command(viewer_a, "gallery user", {"member": owner_a}))
    assert page_b.get("embeds") in (None, [])
    assert [e["title"] for e in page_a["embeds"]] == [f"Morgana {tag}"]
    async with session_factory() as s:
        assert (await s.get(Character, character.id)).is_public is True
    log_b = [m["content"] for m in stack.fake.channel_messages(g.log_b["id"])]
    assert any("spoilers" in line and f"Morgana {tag}" in line for line in log_b)

    member_a = stack.member(f"percival{tag}")
    member_b = also_member(stack, g.b, member_a)
    async with session_factory.begin() as s:
        user = await make_user(s, int(member_a.id))
        own = await make_character(s, user, name=f"Own {tag}")
    shown = await wait_reply(
        await stack.command(
            member_b, "character show", {"character": own.id}, channel_id=g.general_b["id"]
        )
    )
    favorite = next(c for c in custom_ids(shown) if c.endswith(":fav"))
    opened = await stack.command(member_b, "profile edit", channel_id=g.general_b["id"])
    await opened.acknowledged(timeout=3)
    assert opened.modal is not None
    profile_modal = opened.modal["custom_id"]

    blocked = await say(
        stack,
        mod_b,
        g.general_b,
        "mod user",
        {"member": member_b, "status": "blocked", "reason": "raids"},
    )
    assert blocked == en("mod.blocked_set", member=f"<@{member_b.id}>")
    refusal = en("guild.blocked")
    assert (
        await say(stack, member_b, g.general_b, "character create", {"description": "a fox"})
        == refusal
    )
    assert await say(stack, member_b, g.general_b, "collection list") == refusal
    press = await stack.fake.click(member_b, shown, favorite)
    assert await wait_ephemeral_text(press) == refusal
    submitted = await stack.fake.submit_modal(
        member_b,
        g.general_b["id"],
        profile_modal,
        {"display_name": "Blocked", "bio": "", "website": "", "profession": ""},
    )
    assert await wait_ephemeral_text(submitted) == refusal
    async with session_factory() as s:
        assert (await s.get(User, user.id)).display_name != "Blocked"
        assert (await s.get(User, user.id)).account_status == "active"
    choices = await stack.fake.autocomplete(
        member_b, g.general_b["id"], "character show", {"character": "Own"}, focused="character"
    )
    assert choices == []
    help_b = await wait_reply(await stack.command(member_b, "help", channel_id=g.general_b["id"]))
    assert help_b.get("content") != refusal
    assert help_b.get("embeds")
    created = await stack.command(member_a, "character create", {"description": "a fox in A"})
    assert (await wait_final(created))["embeds"][0]["title"]
    choices_a = await stack.fake.autocomplete(
        member_a, g.general_a["id"], "character show", {"character": "Own"}, focused="character"
    )
    assert own.id in [c["value"] for c in choices_a]

    rows_before = await _rows(session_factory, character.id, member_a)
    refused = en("mod.platform_scope")
    for options in ({"character": character.id, "reason": "everywhere", "scope": "platform"},):
        assert await say(stack, mod_b, g.general_b, "mod unpublish", options) == refused
    for status, scope in (
        ("suspended", None),
        ("banned", None),
        ("banned", "platform"),
        ("active", "platform"),
    ):
        options = {"member": member_b, "status": status, "reason": "everywhere"}
        if scope:
            options["scope"] = scope
        assert await say(stack, mod_b, g.general_b, "mod user", options) == refused
    assert await _rows(session_factory, character.id, member_a) == rows_before
    assert rows_before[:2] == (True, "active")

    unblocked = await say(
        stack,
        mod_b,
        g.general_b,
        "mod user",
        {"member": member_b, "status": "active", "reason": "appeal"},
    )
    assert unblocked == en("mod.unblocked_set", member=f"<@{member_b.id}>")
    listed = await say(stack, member_b, g.general_b, "collection list")
    assert listed != refusal


async def _rows(session_factory, character_id: str, member) -> tuple:
    """What a refused platform request must leave as it was."""
    async with session_factory() as s:
        character = await s.get(Character, character_id)
        user = await s.scalar(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        platform_actions = await s.scalar(
            select(func.count())
            .select_from(ModerationAction)
            .where(ModerationAction.scope == "platform")
        )
        hidden = await s.scalar(
            select(func.count())
            .select_from(GuildHiddenCharacter)
            .where(GuildHiddenCharacter.character_id == character_id)
        )
        return character.is_public, user.account_status, platform_actions, hidden


async def test_gallery_pages_in_guild_b_skip_what_b_hid(stack: Stack, session_factory):
    """Next on /gallery browse in B never shows a character B's moderators hid (it sits on the
    second page); the same Next in A shows it."""
    tag = f"pages{next(_n)}"
    g = await Guilds(stack, tag).build()
    async with session_factory.begin() as s:
        owner = await make_user(s, allow_gallery_showcase=True)
        base = datetime.now(UTC) - timedelta(hours=1)
        made = [
            await make_character(
                s,
                owner,
                name=f"{tag} #{i}",
                is_public=True,
                tags=[tag],
                created_at=base + timedelta(minutes=i),
            )
            for i in range(7)
        ]
    oldest = made[0]  # newest first: the oldest is on page 2
    mod_b = stack.fake.add_member(g.b.id, f"modb{tag}", permissions=MANAGE_MESSAGES)
    await say(stack, mod_b, g.general_b, "mod unpublish", {"character": oldest.id, "reason": "no"})
    viewer_a = stack.member(f"viewer{tag}")
    viewer_b = also_member(stack, g.b, viewer_a)

    async def second_page(member, channel) -> list[str]:
        ix = await stack.command(member, "gallery browse", {"tag": tag}, channel_id=channel["id"])
        first = await wait_reply(ix)
        following = next(c for c in custom_ids(first) if c.startswith("gb:n"))
        press = await stack.fake.click(member, first, following)
        await wait_update(press)
        return [e["title"] for e in stack.fake.message(first["id"])["embeds"]]

    assert oldest.name in await second_page(viewer_a, g.general_a)
    shown_b = await second_page(viewer_b, g.general_b)
    assert oldest.name not in shown_b
    assert shown_b == [f"{tag} #1"]


# -- acceptance 2: a platform moderator acts everywhere -----------------------------------------


async def test_platform_moderator_unpublishes_and_suspends_everywhere(
    stack: Stack, session_factory
):
    """The application's owner, acting from guild B with scope:platform: the character leaves
    the gallery and the showcase channels of both guilds; the suspended member's characters
    leave both galleries and they cannot create in A; both actions are in their /mod log (and
    not in guild A's own log), and in B's log channel."""
    tag = f"plat{next(_n)}"
    g = await Guilds(stack, tag).build()
    _, _, character = await g.published_everywhere(session_factory, f"Mordred {tag}")
    platform_mod = also_member(stack, g.b, stack.fake.owner_user, permissions=MANAGE_MESSAGES)
    rogue_a = stack.member(f"rogue{tag}")
    async with session_factory.begin() as s:
        rogue = await make_user(s, int(rogue_a.id), allow_gallery_showcase=True)
        await make_character(s, rogue, name=f"Rogue {tag}", is_public=True, tags=[tag])
    viewer_a = stack.member(f"viewer{tag}")
    viewer_b = also_member(stack, g.b, viewer_a)
    both = sorted([f"Mordred {tag}", f"Rogue {tag}"])
    assert sorted(await titles_in(stack, viewer_a, g.general_a, tag)) == both
    assert sorted(await titles_in(stack, viewer_b, g.general_b, tag)) == both

    done = await say(
        stack,
        platform_mod,
        g.general_b,
        "mod unpublish",
        {"character": character.id, "reason": "stolen art", "scope": "platform"},
    )
    assert done == en("mod.unpublished_dm", name=f"Mordred {tag}")
    suspended = await say(
        stack,
        platform_mod,
        g.general_b,
        "mod user",
        {"member": rogue_a.id, "status": "suspended", "reason": "spam", "scope": "platform"},
    )
    assert suspended == en(
        "mod.status_set", member=f"<@{rogue_a.id}>", status=en("mod.status.suspended")
    )
    async with session_factory() as s:
        assert (await s.get(Character, character.id)).is_public is False
        assert (await s.get(User, rogue.id)).account_status == "suspended"
    assert posted_titles(stack, g.showcase_a) == []
    assert posted_titles(stack, g.showcase_b) == []
    assert await titles_in(stack, viewer_a, g.general_a, tag) == []
    assert await titles_in(stack, viewer_b, g.general_b, tag) == []
    create = await stack.command(rogue_a, "character create", {"description": "a wolf"})
    refused = await wait_ephemeral_text(create)  # after a public "thinking…", removed first
    assert refused == en("error.account_restricted", status="suspended")

    log = await wait_reply(
        await stack.command(platform_mod, "mod log", channel_id=g.general_b["id"])
    )
    embed = log["embeds"][0]
    assert embed["title"] == en("mod.log_title_platform")
    lines = embed["description"].splitlines()
    platform_tag = en("mod.scope_tag.platform")
    assert any(platform_tag in x and f"Mordred {tag}" in x and "stolen art" in x for x in lines)
    assert any(platform_tag in x and f"<@{rogue_a.id}>" in x and "spam" in x for x in lines)
    mod_a = stack.member(f"moda{tag}", permissions=MANAGE_MESSAGES)
    log_a = (await wait_reply(await stack.command(mod_a, "mod log")))["embeds"][0]
    assert log_a["title"] == en("mod.log_title_guild")
    assert "stolen art" not in log_a["description"]
    posted = [m["content"] for m in stack.fake.channel_messages(g.log_b["id"])]
    assert any("stolen art" in p for p in posted)
    assert any("spam" in p and platform_tag in p for p in posted)


# -- acceptance 3: /mod is guild-only and for Manage Messages -----------------------------------


async def test_synced_mod_command_is_guild_only_for_manage_messages(stack: Stack):
    """The synced /mod carries default_member_permissions Manage Messages ("8192") and is
    guild-only (dm_permission false, contexts [guild]); other commands keep working in DMs."""
    registered = stack.fake.commands() or stack.fake.commands(stack.guild.id)
    mod = next(c for c in registered if c["name"] == "mod" and c["type"] == 1)
    assert str(mod["default_member_permissions"]) == str(MANAGE_MESSAGES) == "8192"
    assert mod["dm_permission"] is False
    assert mod["contexts"] == [0]
    gallery = next(c for c in registered if c["name"] == "gallery" and c["type"] == 1)
    assert gallery["default_member_permissions"] is None


# -- /mod setup checks the channels it is given ----------------------------------------------------


async def test_setup_refuses_a_channel_the_bot_cannot_post_in(stack: Stack, session_factory):
    """A log channel where the bot lacks Embed Links: a clear refusal naming it, nothing saved;
    a channel it can post in is saved."""
    tag = f"perm{next(_n)}"
    admin = stack.member(f"admin{tag}", permissions=MANAGE_GUILD)
    closed = await add_channel(stack, stack.guild.id, f"closed-{tag}")
    await deny_bot(stack.fake, closed["id"], EMBED_LINKS)
    async with session_factory() as s:
        before = (await s.get(GuildSettings, int(stack.guild.id))).log_channel_id
    text = await say(stack, admin, stack.channel, "mod setup", {"log_channel": closed["id"]})
    assert text == en(
        "mod.cannot_post", channel=f"<#{closed['id']}>", missing=en("perm.embed_links")
    )
    async with session_factory() as s:
        assert (await s.get(GuildSettings, int(stack.guild.id))).log_channel_id == before
    shut = await add_channel(stack, stack.guild.id, f"shut-{tag}")
    await deny_bot(stack.fake, shut["id"], EMBED_LINKS | (1 << 15))
    text = await say(stack, admin, stack.channel, "mod setup", {"showcase_channel": shut["id"]})
    assert en("perm.embed_links") in text
    assert en("perm.attach_files") in text
    fine = await add_channel(stack, stack.guild.id, f"log-{tag}")
    saved = await say(stack, admin, stack.channel, "mod setup", {"log_channel": fine["id"]})
    assert f"<#{fine['id']}>" in saved
    async with session_factory() as s:
        assert (await s.get(GuildSettings, int(stack.guild.id))).log_channel_id == int(fine["id"])
