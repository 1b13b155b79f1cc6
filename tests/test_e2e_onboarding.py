"""Onboarding at the fake Discord: /help lists every command as a clickable mention with the
ids Discord gave at sync, in the member's language; replies that name a command mention it;
a server that adds the bot is told to start with /mod setup (system channel, else the
inviter by DM), without pinging anyone."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bot.i18n import Catalog
from tests.conftest import truncate_all
from tests.e2e import Stack, collect_violations, running_stack, wait_reply
from tests.fakes.discord.state import BOT_PERMISSIONS, VIEW_AUDIT_LOG
from tests.fakes.discord.validation import default_spec

CATALOG = Catalog.load()
AUDIT_LOG_ROUTE = "/guilds/{guild_id}/audit-logs"
COMMANDS_ROUTE = "/applications/{app_id}/commands"


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-onboarding")) as s:
        yield s
    await truncate_all(engine)


@pytest.fixture
async def bot_running(stack: Stack) -> Stack:
    if stack.bot is None:
        await stack.start_bot()
    assert stack.bot is not None
    # until READY's guilds are in, discord.py counts a new guild as one of them, not a join
    await asyncio.wait_for(stack.bot.wait_until_ready(), 15)
    return stack


def embed_text(message: dict[str, Any]) -> str:
    """Everything an embed of the message says where a mention renders (description,
    field values)."""
    parts = []
    for embed in message.get("embeds") or []:
        parts.append(embed.get("description") or "")
        parts.extend(field["value"] for field in embed.get("fields") or [])
    return "\n".join(parts)


def runnable(command: dict[str, Any]) -> list[str]:
    """The names a member runs under a synced command: its subcommands, or itself."""
    names = []
    for option in command.get("options") or []:
        if option["type"] == 1:
            names.append(f"{command['name']} {option['name']}")
        elif option["type"] == 2:
            names += [f"{command['name']} {option['name']} {o['name']}" for o in option["options"]]
    return names or [command["name"]]


def requests_to(stack: Stack, method: str, route: str) -> list[Any]:
    return [r for r in stack.fake.requests if r.method == method and r.route == route]


async def joined(stack: Stack, guild_id: str) -> None:
    """Wait until the bot has the guild (its GUILD_CREATE was handled), then a moment for the
    welcome, which runs as its own task."""
    assert stack.bot is not None
    for _ in range(200):
        if stack.bot.get_guild(int(guild_id)) is not None:
            break
        await asyncio.sleep(0.05)
    assert stack.bot.get_guild(int(guild_id)) is not None
    await asyncio.sleep(0.3)


async def test_help_mentions_every_command_in_the_members_language(bot_running: Stack):
    """The /help reply is private, in Japanese for a Japanese member, and holds a mention
    ``</name…:id>`` of every synced top-level command (and of each of its subcommands) with
    the id the fake assigned."""
    stack = bot_running
    member = stack.member("merlin", locale="ja")
    ix = await stack.command(member, "help")
    reply = await wait_reply(ix)
    assert ix.ephemeral
    text = embed_text(reply)
    synced = [c for c in stack.fake.commands() if c["type"] == 1]
    assert {"character", "mod", "quota", "help", "settings"} <= {c["name"] for c in synced}
    for command in synced:
        top = re.compile(rf"</{re.escape(command['name'])}(?: [\w-]+)*:{command['id']}>")
        assert top.search(text), f"/help has no mention of /{command['name']}"
        for name in runnable(command):
            assert f"</{name}:{command['id']}>" in text, name
    assert reply["embeds"][0]["title"] == CATALOG.t("ja", "help.title")
    japanese = CATALOG.command_text("ja", "Create a character from a description")
    assert japanese is not None
    assert f"{stack.mention('character create')} — {japanese}" in text
    assert stack.mention("settings") in reply["embeds"][0]["description"]
    # the context menus, by the names the member's client shows
    for menu in ("Make a character", "Edit this image", "View profile"):
        assert f"**{CATALOG.command_text('ja', menu)}**" in text, menu
    assert collect_violations(stack) == []


async def test_help_after_a_start_without_sync_fetches_the_ids_once(bot_running: Stack):
    """A restart with the same command set does not sync; the ids come from one fetch at
    start, and /help still mentions every command."""
    stack = bot_running
    await stack.stop_bot()
    fetches = len(requests_to(stack, "GET", COMMANDS_ROUTE))
    await stack.start_bot()
    assert stack.fake.command_put_count() == 1
    assert len(requests_to(stack, "GET", COMMANDS_ROUTE)) == fetches + 1
    member = stack.member("nimue")
    reply = await wait_reply(await stack.command(member, "help"))
    text = embed_text(reply)
    for command in (c for c in stack.fake.commands() if c["type"] == 1):
        for name in runnable(command):
            assert f"</{name}:{command['id']}>" in text, name
    assert reply["embeds"][0]["title"] == CATALOG.t("en", "help.title")
    assert len(requests_to(stack, "GET", COMMANDS_ROUTE)) == fetches + 1
    assert collect_violations(stack) == []


async def test_replies_that_name_a_command_mention_it(bot_running: Stack):
    """An empty character list and an empty collection list point to the command that fills
    them, as a mention (so the member's client shows its localised name)."""
    stack = bot_running
    member = stack.member("vivien", locale="ko")
    listed = await wait_reply(await stack.command(member, "character list"))
    create = stack.mention("character create")
    assert listed["embeds"][0]["description"] == CATALOG.t("ko", "list.empty", command=create)
    collections = await wait_reply(await stack.command(member, "collection list"))
    expected = CATALOG.t("ko", "collection.none", command=stack.mention("collection create"))
    assert collections["content"] == expected
    assert "</collection create:" in collections["content"]
    assert collect_violations(stack) == []


async def test_joining_a_server_posts_the_welcome_in_its_system_channel(bot_running: Stack):
    """Added to a Japanese server with a system channel, the bot posts there, in Japanese,
    with /mod setup as a mention and with mentions that ping no one."""
    stack = bot_running
    guild = stack.fake.add_guild("Avalon", locale="ja", system_channel="welcome")
    channel_id = guild.system_channel_id
    assert channel_id is not None
    await stack.fake.wait_until(lambda: bool(stack.fake.channel_messages(channel_id)), 10)
    [message] = stack.fake.channel_messages(channel_id)
    setup = stack.mention("mod setup")
    assert setup in message["content"]
    assert message["content"] == CATALOG.t(
        "ja",
        "welcome.guild",
        guild="Avalon",
        setup=setup,
        create=stack.mention("character create"),
        help=stack.mention("help"),
    )
    [sent] = [r for r in stack.fake.requests if r.path == f"/channels/{channel_id}/messages"]
    assert sent.body["allowed_mentions"] == {"parse": []}
    assert message["mentions"] == []
    assert message["mention_roles"] == []
    assert requests_to(stack, "GET", AUDIT_LOG_ROUTE) == []
    assert stack.fake.dms(guild.owner_id) == []
    assert collect_violations(stack) == []


async def test_without_a_usable_system_channel_the_inviter_gets_a_dm(bot_running: Stack):
    """When the bot may not post in the system channel, the member the audit log names as
    having added it gets the welcome by DM (the owner, who did not add it, gets nothing)."""
    stack = bot_running
    inviter = stack.fake.add_user("percival")
    guild = stack.fake.add_guild(
        "Listenois",
        system_channel="announcements",
        read_only_system_channel=True,
        bot_permissions=BOT_PERMISSIONS | VIEW_AUDIT_LOG,
        invited_by=inviter["id"],
    )
    await stack.fake.wait_until(lambda: bool(stack.fake.dms(inviter["id"])), 10)
    [dm] = stack.fake.dms(inviter["id"])
    assert stack.mention("mod setup") in dm["content"]
    assert dm["content"].startswith(CATALOG.t("en", "welcome.guild").split("{")[0])
    assert "**Listenois**" in dm["content"]
    assert stack.fake.channel_messages(str(guild.system_channel_id)) == []
    assert stack.fake.dms(guild.owner_id) == []
    [audit] = [r for r in requests_to(stack, "GET", AUDIT_LOG_ROUTE) if guild.id in r.path]
    assert audit.query["action_type"] == "28"
    assert audit.status == 200
    assert collect_violations(stack) == []  # the request was valid for Discord's OpenAPI spec


async def test_a_server_the_bot_cannot_greet_is_left_quietly(
    bot_running: Stack, caplog: pytest.LogCaptureFixture
):
    """No system channel and no View Audit Log: nothing is posted, the audit log is not
    asked, and nothing is logged as an error."""
    stack = bot_running
    caplog.set_level(logging.INFO, logger="cogs.help.welcome")
    before = len(stack.fake.requests)
    guild = stack.fake.add_guild("Benwick")
    await joined(stack, guild.id)
    posted = [r for r in stack.fake.requests[before:] if r.method == "POST"]
    assert posted == []
    assert not [r for r in requests_to(stack, "GET", AUDIT_LOG_ROUTE) if guild.id in r.path]
    assert stack.fake.dms(guild.owner_id) == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("nowhere" in r.getMessage() for r in caplog.records)
    assert collect_violations(stack) == []


async def test_the_fakes_audit_log_answer_is_what_discord_documents(bot_running: Stack):
    """The fake's GET /guilds/{id}/audit-logs answer (which the welcome reads) matches the
    GuildAuditLogResponse schema of Discord's OpenAPI spec, and it refuses a bot without
    View Audit Log as Discord does (403, code 50013)."""
    spec_path = default_spec()
    if spec_path is None:
        pytest.skip("Discord's OpenAPI spec (discord-api-spec) is not available")
    stack = bot_running
    allowed = stack.fake.add_guild("Gaunes", bot_permissions=BOT_PERMISSIONS | VIEW_AUDIT_LOG)
    refused = stack.fake.add_guild("Gorre")
    await joined(stack, allowed.id)
    headers = {"Authorization": f"Bot {stack.fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{stack.fake.api_base}/guilds/{allowed.id}/audit-logs?action_type=28&limit=5"
        async with http.get(url) as response:
            assert response.status == 200
            body = await response.json()
        async with http.get(f"{stack.fake.api_base}/guilds/{refused.id}/audit-logs") as response:
            assert response.status == 403
            assert (await response.json())["code"] == 50013
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        "urn:discord", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    schema = {"$ref": "urn:discord#/components/schemas/GuildAuditLogResponse"}
    errors = [e.message for e in Draft202012Validator(schema, registry=registry).iter_errors(body)]
    assert errors == []
    [entry] = body["audit_log_entries"]
    assert entry["action_type"] == 28
    assert entry["target_id"] == stack.fake.bot_user["id"]
    assert entry["user_id"] == allowed.owner_id
    assert {u["id"] for u in body["users"]} == {allowed.owner_id, stack.fake.bot_user["id"]}
