"""End to end: reporting a gallery character and the platform moderators' report queue,
through the real discord.py against the fake Discord (two guilds)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from bot.i18n import Catalog
from db.bot_models import CharacterReport, GuildSettings, ModerationAction, ShowcasePost
from db.models import Character, User
from tests.conftest import truncate_all
from tests.e2e import Stack, custom_ids, running_stack, wait_ephemeral_text, wait_reply, wait_update
from tests.e2e_guilds import add_channel, add_guild
from tests.factories import make_character, make_user
from tests.fakes.discord.members import join_guild
from tests.fakes.discord.state import MANAGE_MESSAGES

MANAGE_GUILD = 1 << 5
CATALOG = Catalog.load()
_n = itertools.count(1)


def en(key: str, **params) -> str:
    """The English text of a catalog key."""
    return CATALOG.t("en", key, **params)


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-reports")) as s:
        # a platform moderator by configuration; the application's owner is one by Discord
        s.platform = s.member("merlin", permissions=MANAGE_MESSAGES)
        s.owner_member = join_guild(
            s.fake, s.guild.id, s.fake.owner_user, permissions=MANAGE_MESSAGES
        )
        await s.start_bot(platform_moderator_ids=s.platform.id)
        yield s
    await truncate_all(engine)


# -- helpers -----------------------------------------------------------------------------------


async def user_of(session_factory, member, **overrides) -> User:
    """The member's user row, inserted the way the bot would find it."""
    async with session_factory.begin() as s:
        return await make_user(s, int(member.id), **overrides)


async def published(stack: Stack, session_factory, tag: str, name: str):
    """A member who showcases, and their character published through /character publish (so
    it is posted in the guild's showcase channel, when set)."""
    owner_member = stack.member(f"owner{tag}")
    owner = await user_of(session_factory, owner_member, allow_gallery_showcase=True)
    async with session_factory.begin() as s:
        character = await make_character(s, owner, name=name, tags=[tag])
    ix = await stack.command(owner_member, "character publish", {"character": character.id})
    await wait_ephemeral_text(ix)
    return owner_member, character


async def set_channels(stack: Stack, session_factory, tag: str) -> tuple[dict, dict]:
    """A showcase channel and a log channel for the main guild, through /mod setup."""
    showcase = await add_channel(stack, stack.guild.id, f"showcase-{tag}")
    log_channel = await add_channel(stack, stack.guild.id, f"mod-log-{tag}")
    admin = stack.member(f"admin{tag}", permissions=MANAGE_GUILD)
    options = {"showcase_channel": showcase["id"], "log_channel": log_channel["id"]}
    await wait_ephemeral_text(await stack.command(admin, "mod setup", options))
    async with session_factory() as s:
        settings = await s.get(GuildSettings, int(stack.guild.id))
    assert settings.log_channel_id == int(log_channel["id"])
    return showcase, log_channel


async def browse(stack: Stack, member, tag: str, **kw) -> dict:
    """The /gallery browse page of one tag."""
    return await wait_reply(await stack.command(member, "gallery browse", {"tag": tag}, **kw))


def titles(message: dict) -> list[str]:
    return [e["title"] for e in message.get("embeds") or []]


async def report(stack: Stack, member, message: dict, character_id: str, reason: str):
    """Press Report on a message and submit the modal; the submission's interaction."""
    pressed = await stack.fake.click(member, message, f"report:{character_id}")
    await pressed.acknowledged(timeout=3)
    assert pressed.modal is not None, pressed.callbacks
    return await stack.fake.submit_modal(
        member,
        message["channel_id"],
        pressed.modal["custom_id"],
        {"reason": reason},
        message=message,
    )


async def open_queue(stack: Stack, member) -> dict:
    """/mod reports as ``member`` sees it."""
    return await wait_reply(await stack.command(member, "mod reports"))


async def press(stack: Stack, member, message: dict, custom_id: str) -> dict:
    """Press a queue button; the queue message once updated."""
    ix = await stack.fake.click(member, message, custom_id)
    await ix.acknowledged(timeout=3)
    await wait_update(ix)
    return stack.fake.message(message["id"])


async def rows(session_factory, model, *where) -> list:
    async with session_factory() as s:
        return list((await s.scalars(select(model).where(*where))).all())


# -- 1. a report reaches the log channel and the queue ----------------------------------------


async def test_reports_from_gallery_and_showcase_reach_log_channel_and_queue(
    stack: Stack, session_factory
):
    """Report on a gallery page and on a showcase post: a report row each, a private thanks,
    an unpinging post in the log channel (with a link to the showcase post), and both in a
    platform moderator's /mod reports, oldest first; a second report while open is refused."""
    tag = f"rep{next(_n)}"
    showcase, log_channel = await set_channels(stack, session_factory, tag)
    _, character = await published(stack, session_factory, tag, f"Grim {tag}")
    [post] = stack.fake.channel_messages(showcase["id"])
    assert f"report:{character.id}" in custom_ids(post)

    gawain = stack.member(f"gawain{tag}")
    page = await browse(stack, gawain, tag)
    assert titles(page) == [f"Grim {tag}"]
    thanks = await report(stack, gawain, page, character.id, "gory portrait")
    assert await wait_ephemeral_text(thanks) == en("reports.filed", name=f"Grim {tag}")
    await stack.fake.wait_until(lambda: len(stack.fake.channel_messages(log_channel["id"])) == 1)

    ywain = stack.member(f"ywain{tag}")
    thanks = await report(stack, ywain, post, character.id, "stolen art")
    assert await wait_ephemeral_text(thanks) == en("reports.filed", name=f"Grim {tag}")
    await stack.fake.wait_until(lambda: len(stack.fake.channel_messages(log_channel["id"])) == 2)

    from_gallery, from_showcase = stack.fake.channel_messages(log_channel["id"])
    for message, reporter, reason in (
        (from_gallery, gawain, "gory portrait"),
        (from_showcase, ywain, "stolen art"),
    ):
        embed = message["embeds"][0]
        assert embed["title"] == en("reports.log_title", name=f"Grim {tag}")
        assert embed["description"] == reason
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert character.id in fields[en("reports.character")]
        assert fields[en("reports.reporter")] == reporter.user["username"]
        assert message["mentions"] == []
    assert post["id"] in from_showcase["embeds"][0]["url"]
    assert "url" not in from_gallery["embeds"][0]  # a gallery page is private: no link
    sent = [r for r in stack.fake.requests if r.path == f"/channels/{log_channel['id']}/messages"]
    assert [r.body["allowed_mentions"] for r in sent] == [{"parse": []}] * 2

    # the same member again while theirs is open: refused politely, nothing changes
    again = await stack.fake.click(gawain, post, f"report:{character.id}")
    assert await wait_ephemeral_text(again) == en("reports.duplicate", name=f"Grim {tag}")
    assert again.modal is None
    reports = await rows(
        session_factory, CharacterReport, CharacterReport.character_id == character.id
    )
    assert sorted(r.reason for r in reports) == ["gory portrait", "stolen art"]
    assert {r.guild_id for r in reports} == {int(stack.guild.id)}
    assert len(stack.fake.channel_messages(log_channel["id"])) == 2

    queue = await open_queue(stack, stack.platform)
    assert queue["flags"] & 64
    shown = queue["embeds"][0]
    assert shown["description"] == "gory portrait"
    assert character.id in shown["fields"][0]["value"]
    first = next(r for r in reports if r.reason == "gory portrait")
    assert f"rq:dismiss:{first.id}" in custom_ids(queue)
    nxt = next(c for c in custom_ids(queue) if c.startswith("rqp:n:"))
    second = await press(stack, stack.platform, queue, nxt)
    assert second["embeds"][0]["description"] == "stolen art"


async def test_own_and_private_characters_cannot_be_reported(stack: Stack, session_factory):
    """Your own cards carry no Report button (others' /gallery browse and /gallery user pages
    do) and a press on your own is refused; a character that left the gallery is refused too;
    no row is made."""
    tag = f"own{next(_n)}"
    owner_member, character = await published(stack, session_factory, tag, f"Mine {tag}")
    page = await browse(stack, owner_member, tag)
    assert titles(page) == [f"Mine {tag}"]
    assert not [c for c in custom_ids(page) if c.startswith("report:")]
    viewer = stack.member(f"viewer{tag}")
    theirs = await browse(stack, viewer, tag)
    forged = await stack.fake.click(owner_member, theirs, f"report:{character.id}")
    assert await wait_ephemeral_text(forged) == en("reports.own")
    async with session_factory.begin() as s:
        (await s.get(User, character.user_id)).profile_visibility = "public"
    their_page = await wait_reply(
        await stack.command(viewer, "gallery user", {"member": owner_member})
    )
    assert titles(their_page) == [f"Mine {tag}"]
    assert f"report:{character.id}" in custom_ids(their_page)
    async with session_factory.begin() as s:
        (await s.get(Character, character.id)).is_public = False
    refused = await stack.fake.click(viewer, theirs, f"report:{character.id}")
    assert await wait_ephemeral_text(refused) == en("reports.not_public")
    assert (
        await rows(session_factory, CharacterReport, CharacterReport.character_id == character.id)
        == []
    )


async def test_a_log_channel_that_refuses_the_post_never_fails_the_report(
    stack: Stack, session_factory
):
    """When the log channel is gone, the report is still filed and the member thanked."""
    tag = f"gone{next(_n)}"
    _, log_channel = await set_channels(stack, session_factory, tag)
    stack.fake.channels.pop(log_channel["id"])  # deleted in Discord: posting there is a 404
    _, character = await published(stack, session_factory, tag, f"Odd {tag}")
    member = stack.member(f"bors{tag}")
    page = await browse(stack, member, tag)
    thanks = await report(stack, member, page, character.id, "weird")
    assert await wait_ephemeral_text(thanks) == en("reports.filed", name=f"Odd {tag}")
    await stack.fake.wait_until(
        lambda: any(
            r.path == f"/channels/{log_channel['id']}/messages" and r.status == 404
            for r in stack.fake.requests
        )
    )
    [row] = await rows(
        session_factory, CharacterReport, CharacterReport.character_id == character.id
    )
    assert row.status == "open"


# -- 2. only platform moderators ---------------------------------------------------------------


async def test_only_platform_moderators_see_and_resolve_reports(stack: Stack, session_factory):
    """A server moderator (Manage Messages) is refused /mod reports, Dismiss and Unpublish
    (pressed on a platform moderator's queue): the report stays open, the character public,
    nothing logged."""
    tag = f"plat{next(_n)}"
    _, character = await published(stack, session_factory, tag, f"Loud {tag}")
    reporter = stack.member(f"kay{tag}")
    page = await browse(stack, reporter, tag)
    await wait_ephemeral_text(await report(stack, reporter, page, character.id, "shouting"))
    [row] = await rows(
        session_factory, CharacterReport, CharacterReport.character_id == character.id
    )

    server_mod = stack.member(f"servermod{tag}", permissions=MANAGE_MESSAGES)
    refused = await stack.command(server_mod, "mod reports")
    assert await wait_ephemeral_text(refused) == en("reports.platform_only")
    japanese = stack.member(f"jp{tag}", permissions=MANAGE_MESSAGES)
    await user_of(session_factory, japanese, preferred_language="ja")
    refused = await stack.command(japanese, "mod reports")
    assert await wait_ephemeral_text(refused) == CATALOG.t("ja", "reports.platform_only")

    queue = await open_queue(stack, stack.owner_member)  # the application's owner
    assert f"rq:dismiss:{row.id}" in custom_ids(queue)
    for action in ("dismiss", "unpublish"):
        ix = await stack.fake.click(server_mod, queue, f"rq:{action}:{row.id}")
        assert await wait_ephemeral_text(ix) == en("reports.platform_only")
    async with session_factory() as s:
        assert (await s.get(CharacterReport, row.id)).status == "open"
        assert (await s.get(Character, character.id)).is_public is True
    assert (
        await rows(
            session_factory, ModerationAction, ModerationAction.target_character_id == character.id
        )
        == []
    )


# -- 3. dismiss and unpublish ------------------------------------------------------------------


async def test_dismiss_marks_the_report_and_a_stale_press_is_answered_politely(
    stack: Stack, session_factory
):
    """Dismiss closes the report, logs dismiss_report (platform) and the queue message moves
    on; the same report pressed on another moderator's older queue gets a polite note and a
    fresh queue, and nothing is logged twice."""
    tag = f"dis{next(_n)}"
    _, character = await published(stack, session_factory, tag, f"Meh {tag}")
    reporter = stack.member(f"dagonet{tag}")
    page = await browse(stack, reporter, tag)
    await wait_ephemeral_text(await report(stack, reporter, page, character.id, "boring"))
    [row] = await rows(
        session_factory, CharacterReport, CharacterReport.character_id == character.id
    )

    # work the queue down to this report (earlier tests left theirs open)
    mine = await open_queue(stack, stack.platform)
    while f"rq:dismiss:{row.id}" not in custom_ids(mine):
        mine = await press(
            stack, stack.platform, mine, next(c for c in custom_ids(mine) if c.startswith("rqp:n:"))
        )
    theirs = await open_queue(stack, stack.owner_member)
    while f"rq:dismiss:{row.id}" not in custom_ids(theirs):
        theirs = await press(
            stack,
            stack.owner_member,
            theirs,
            next(c for c in custom_ids(theirs) if c.startswith("rqp:n:")),
        )

    after = await press(stack, stack.platform, mine, f"rq:dismiss:{row.id}")
    assert after["content"] == en("reports.dismissed", name=f"Meh {tag}")
    assert f"rq:dismiss:{row.id}" not in custom_ids(after)
    stale = await press(stack, stack.owner_member, theirs, f"rq:unpublish:{row.id}")
    assert stale["content"] == en("reports.closed")
    async with session_factory() as s:
        closed = await s.get(CharacterReport, row.id)
        assert (await s.get(Character, character.id)).is_public is True
    assert (closed.status, closed.resolved_by_discord_id) == ("dismissed", int(stack.platform.id))
    logged = await rows(
        session_factory, ModerationAction, ModerationAction.target_character_id == character.id
    )
    assert [(a.action, a.scope, a.moderator_discord_id) for a in logged] == [
        ("dismiss_report", "platform", int(stack.platform.id))
    ]


async def test_unpublish_from_the_queue_hides_the_character_in_every_guild(
    stack: Stack, session_factory
):
    """Unpublish from the queue: is_public false, gone from /gallery browse in both guilds,
    its showcase post removed, all its open reports closed, the owner told by DM, and the
    action in /mod log and in the guild's log channel."""
    tag = f"unp{next(_n)}"
    showcase, log_channel = await set_channels(stack, session_factory, tag)
    owner_member, character = await published(stack, session_factory, tag, f"Vile {tag}")
    assert len(stack.fake.channel_messages(showcase["id"])) == 1

    avalon, avalon_channel = await add_guild(stack, f"Avalon {tag}")
    pellinore = stack.fake.add_member(avalon.id, f"pellinore{tag}")
    elsewhere = await browse(stack, pellinore, tag, channel_id=avalon_channel["id"])
    assert titles(elsewhere) == [f"Vile {tag}"]
    await wait_ephemeral_text(await report(stack, pellinore, elsewhere, character.id, "hateful"))
    lancelot = stack.member(f"lancelot{tag}")
    here = await browse(stack, lancelot, tag)
    await wait_ephemeral_text(await report(stack, lancelot, here, character.id, "also hateful"))
    reports = await rows(
        session_factory, CharacterReport, CharacterReport.character_id == character.id
    )
    assert {r.guild_id for r in reports} == {int(stack.guild.id), int(avalon.id)}
    first = next(r for r in reports if r.reason == "hateful")

    queue = await open_queue(stack, stack.platform)
    while f"rq:unpublish:{first.id}" not in custom_ids(queue):
        queue = await press(
            stack,
            stack.platform,
            queue,
            next(c for c in custom_ids(queue) if c.startswith("rqp:n:")),
        )
    after = await press(stack, stack.platform, queue, f"rq:unpublish:{first.id}")
    assert after["content"] == en("reports.unpublished_dm", name=f"Vile {tag}", count=2)

    async with session_factory() as s:
        assert (await s.get(Character, character.id)).is_public is False
        assert await s.get(ShowcasePost, (character.id, int(stack.guild.id))) is None
    statuses = {
        r.status
        for r in await rows(
            session_factory, CharacterReport, CharacterReport.character_id == character.id
        )
    }
    assert statuses == {"unpublished"}
    assert stack.fake.channel_messages(showcase["id"]) == []
    assert titles(await browse(stack, lancelot, tag)) == []
    assert titles(await browse(stack, pellinore, tag, channel_id=avalon_channel["id"])) == []
    assert "hateful" in stack.fake.dms(owner_member.id)[-1]["content"]
    logged = await rows(
        session_factory, ModerationAction, ModerationAction.target_character_id == character.id
    )
    assert [(a.action, a.scope, a.reason) for a in logged] == [("unpublish", "platform", "hateful")]
    log = await wait_reply(await stack.command(stack.platform, "mod log"))
    assert f"Vile {tag}" in log["embeds"][0]["description"].splitlines()[0]
    await stack.fake.wait_until(
        lambda: any(
            f"Vile {tag}" in (m.get("content") or "")
            for m in stack.fake.channel_messages(log_channel["id"])
        )
    )


async def test_no_discord_rule_was_broken(stack: Stack):
    """Every request of this module passed the fake's OpenAPI and limit checks."""
    assert stack.fake.take_violations() == []
