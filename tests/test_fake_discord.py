"""Real discord.py against the fake Discord: login, gateway, commands, components, and the rules."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
import pytest_asyncio
import yarl
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import FakeDiscord, FakeGuild, FakeMember

PNG = b"\x89PNG\r\n\x1a\n" + b"fake-reference-image"


@dataclass
class Seen:
    """What the bot under test observed, for assertions from the test side."""

    futures: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    release: dict[str, asyncio.Event] = field(default_factory=dict)

    def future(self, key: str) -> asyncio.Future[Any]:
        if key not in self.futures:
            self.futures[key] = asyncio.get_running_loop().create_future()
        return self.futures[key]

    def event(self, key: str) -> asyncio.Event:
        return self.release.setdefault(key, asyncio.Event())


class FavButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"char:(?P<id>\d+):fav"):
    def __init__(self, char_id: int) -> None:
        super().__init__(discord.ui.Button(label="Favorite", custom_id=f"char:{char_id}:fav"))
        self.char_id = char_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any
    ) -> FavButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content=f"favorited {self.char_id}")


class EditModal(discord.ui.Modal, title="Edit character"):
    name: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Name", custom_id="name")
    story: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Backstory", custom_id="story", required=False
    )

    def __init__(self) -> None:
        super().__init__(custom_id="edit:7")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"saved {self.name.value}", ephemeral=True)


def error_code(exc: BaseException) -> int | None:
    return exc.code if isinstance(exc, discord.HTTPException) else None


def build_bot(seen: Seen, guild_id: int, **kwargs: Any) -> commands.AutoShardedBot:
    bot = commands.AutoShardedBot(command_prefix="!", intents=discord.Intents.default(), **kwargs)
    character = app_commands.Group(name="character", description="Characters")

    @character.command(name="create", description="Create a character")
    @app_commands.choices(
        style=[app_commands.Choice(name=s, value=s) for s in ("realistic", "anime")]
    )
    async def create(
        interaction: discord.Interaction,
        description: str,
        style: str = "realistic",
        reference: discord.Attachment | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True)
        ref = await reference.read() if reference else b""
        seen.future("create").set_result((description, style, ref))
        embed = discord.Embed(title=description).set_image(url="attachment://portrait.png")
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(ref + b"!"), filename="portrait.png")
        )

    @character.command(name="show", description="Show a character")
    async def show(interaction: discord.Interaction, character: str) -> None:
        await interaction.response.send_message(character)

    @show.autocomplete("character")
    async def show_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["arthur", "ariel", "bob"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    @character.command(name="card", description="Post a card with a button")
    async def card(interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(FavButton(42))
        await interaction.response.send_message("card", view=view)

    @character.command(name="edit", description="Edit a character")
    async def edit(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(EditModal())

    @character.command(name="slow", description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(3.2)
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            seen.future("slow").set_result(error_code(exc))

    @character.command(name="twice", description="Acknowledges twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("once")
        interaction.response._response_type = None  # bypass the library's own guard
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            seen.future("twice").set_result(error_code(exc))

    @character.command(name="later", description="Follows up after a signal")
    async def later(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await seen.event("later").wait()
        try:
            await interaction.followup.send("too late")
        except discord.HTTPException as exc:
            seen.future("later").set_result(error_code(exc))

    @character.command(name="thread", description="Opens a thread")
    async def thread(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message("root")
        root = await interaction.original_response()
        try:
            created = await root.create_thread(name=name)
        except discord.HTTPException as exc:
            seen.future("thread").set_result(error_code(exc))
            return
        await created.send("inside", file=discord.File(io.BytesIO(b"notes"), filename="n.txt"))
        seen.future("thread").set_result(created.id)

    async def setup_hook() -> None:
        bot.add_dynamic_items(FavButton)
        bot.tree.add_command(character, guild=discord.Object(guild_id))
        await bot.tree.sync(guild=discord.Object(guild_id))

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


def point_discord_at(fake: FakeDiscord) -> tuple[str, yarl.URL]:
    old = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    return old


@dataclass
class Env:
    fake: FakeDiscord
    bot: commands.AutoShardedBot
    guild: FakeGuild
    channel: dict[str, Any]
    member: FakeMember
    seen: Seen


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env() -> AsyncIterator[Env]:
    fake = FakeDiscord()
    await fake.start()
    old = point_discord_at(fake)
    guild = fake.add_guild("Camelot")
    channel = fake.add_text_channel(guild.id, "general")
    member = fake.add_member(guild.id, "lancelot")
    seen = Seen()
    bot = build_bot(seen, int(guild.id))
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect())
    try:
        await fake.wait_for_ready(timeout=10)
        yield Env(fake, bot, guild, channel, member, seen)
    finally:
        await bot.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    async def _poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_poll(), timeout)


async def test_login_identify_and_guild_create(env: Env) -> None:
    """The bot logs in over REST, identifies on the gateway and caches the guild and channel."""
    fake = env.fake
    paths = [(r.method, r.path) for r in fake.requests]
    assert ("GET", "/users/@me") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    assert ("GET", "/gateway/bot") in paths
    assert fake.identifies[0]["token"] == fake.token
    assert fake.identifies[0]["shard"] == [0, 1]
    assert fake.identifies[0]["intents"] == discord.Intents.default().value
    assert fake.gateway_queries[0]["v"] == "10"
    await wait_until(lambda: env.bot.get_guild(int(env.guild.id)) is not None)
    guild = env.bot.get_guild(int(env.guild.id))
    assert guild is not None
    assert guild.name == "Camelot"
    assert guild.get_channel(int(env.channel["id"])) is not None
    assert env.bot.user is not None
    assert str(env.bot.user.id) == fake.application_id
    assert fake.take_violations() == []


async def test_guild_commands_are_synced_once(env: Env) -> None:
    """The tree's bulk overwrite is stored with ids, subcommands and the attachment option."""
    registered = env.fake.commands(env.guild.id)
    assert [c["name"] for c in registered] == ["character"]
    subs = {o["name"]: o for o in registered[0]["options"]}
    assert {"create", "show", "card", "edit", "slow", "twice", "later", "thread"} <= set(subs)
    create_opts = {o["name"]: o["type"] for o in subs["create"]["options"]}
    assert create_opts == {"description": 3, "style": 3, "reference": 11}
    assert registered[0]["id"]
    assert env.fake.command_put_count(env.guild.id) == 1
    assert env.fake.command_put_count() == 0


async def test_slash_command_defer_and_followup_with_file(env: Env) -> None:
    """A deferred command reads the resolved attachment from the CDN and uploads a file."""
    fake = env.fake
    ix = await fake.send_command(
        env.member,
        env.channel["id"],
        "character create",
        {"description": "a knight", "style": "anime"},
        attachments={"reference": ("ref.png", PNG, "image/png")},
    )
    ack = await ix.acknowledged(timeout=5)
    assert ack["type"] == 5
    assert ix.ack_delay is not None
    assert ix.ack_delay < 3
    assert await asyncio.wait_for(env.seen.future("create"), 5) == ("a knight", "anime", PNG)
    await ix.wait_for(lambda i: bool(i.original() and i.original()["attachments"]), timeout=5)
    reply = ix.original()
    assert reply is not None
    assert not ix.ephemeral
    assert reply["embeds"][0]["title"] == "a knight"
    attachment = reply["attachments"][0]
    assert attachment["filename"] == "portrait.png"
    assert fake.attachment_bytes(attachment["url"]) == PNG + b"!"
    assert reply["embeds"][0]["image"]["url"] == attachment["url"]
    assert reply["webhook_id"] == fake.application_id
    assert reply in fake.channel_messages(env.channel["id"])
    # the upload is stamped when it had arrived, after the command was sent
    upload = next(r for r in fake.requests if r.files)
    assert upload.received_at is not None
    assert ix.created_at < upload.received_at <= fake.clock.monotonic()
    assert fake.take_violations() == []


async def test_button_click_on_dynamic_item(env: Env) -> None:
    """A DynamicItem button on a posted message answers the click by updating the message."""
    fake = env.fake
    ix = await fake.send_command(env.member, env.channel["id"], "character card")
    await ix.acknowledged()
    card = ix.original()
    assert card is not None
    assert card["components"][0]["components"][0]["label"] == "Favorite"
    click = await fake.click(env.member, card, "char:42:fav")
    assert (await click.acknowledged())["type"] == 7
    assert fake.message(card["id"])["content"] == "favorited 42"
    assert fake.take_violations() == []


async def test_modal_open_and_submit(env: Env) -> None:
    """A command opens a modal; submitting it reaches on_submit, which answers ephemerally."""
    fake = env.fake
    ix = await fake.send_command(env.member, env.channel["id"], "character edit")
    assert (await ix.acknowledged())["type"] == 9
    assert ix.modal is not None
    assert ix.modal["custom_id"] == "edit:7"
    submit = await fake.submit_modal(env.member, env.channel["id"], "edit:7", {"name": "Arthur"})
    assert (await submit.acknowledged())["type"] == 4
    assert submit.ephemeral
    assert submit.original()["content"] == "saved Arthur"
    assert submit.original() not in fake.channel_messages(env.channel["id"])
    assert fake.take_violations() == []


async def test_autocomplete_returns_choices(env: Env) -> None:
    """Autocomplete on a focused option returns the bot's choices."""
    choices = await env.fake.autocomplete(
        env.member, env.channel["id"], "character show", {"character": "ar"}, focused="character"
    )
    assert [c["value"] for c in choices] == ["arthur", "ariel"]
    assert env.fake.take_violations() == []


async def test_late_acknowledgement_is_rejected(env: Env) -> None:
    """A first callback after 3 s gets 10062 and is recorded as a late acknowledgement."""
    ix = await env.fake.send_command(env.member, env.channel["id"], "character slow")
    assert await asyncio.wait_for(env.seen.future("slow"), 6) == 10062
    assert not ix.is_acknowledged
    assert ix.rejected[0]["code"] == 10062
    violations = env.fake.take_violations()
    assert len(violations) == 1
    assert "late acknowledgement" in violations[0]


async def test_second_acknowledgement_is_rejected(env: Env) -> None:
    """A second callback to the same interaction gets 40060."""
    ix = await env.fake.send_command(env.member, env.channel["id"], "character twice")
    assert await asyncio.wait_for(env.seen.future("twice"), 5) == 40060
    assert [c["type"] for c in ix.callbacks] == [4]
    violations = env.fake.take_violations()
    assert len(violations) == 1
    assert "acknowledged twice" in violations[0]


async def test_token_expires_after_15_minutes(env: Env) -> None:
    """Webhook calls after the 15-minute token lifetime get 401 code 50027."""
    ix = await env.fake.send_command(env.member, env.channel["id"], "character later")
    await ix.acknowledged()
    assert ix.ephemeral
    env.fake.advance_time(15 * 60 + 1)
    env.seen.event("later").set()
    assert await asyncio.wait_for(env.seen.future("later"), 5) == 50027
    violations = env.fake.take_violations()
    assert len(violations) == 1
    assert "15-minute" in violations[0]


async def test_thread_from_message_with_multipart_upload(env: Env) -> None:
    """A thread started from a message has the message id, type 11, and gets an uploaded file."""
    fake = env.fake
    ix = await fake.send_command(
        env.member, env.channel["id"], "character thread", {"name": "Arthur's tale"}
    )
    thread_id = str(await asyncio.wait_for(env.seen.future("thread"), 5))
    thread = fake.threads[thread_id]
    assert thread["type"] == 11
    assert thread["parent_id"] == env.channel["id"]
    assert thread["name"] == "Arthur's tale"
    root = ix.original()
    assert root is not None
    assert root["id"] == thread_id
    assert root["thread"]["id"] == thread_id
    inside = fake.channel_messages(thread_id)
    assert [m["content"] for m in inside] == ["inside"]
    assert fake.attachment_bytes(inside[0]["attachments"][0]["id"]) == b"notes"
    await wait_until(lambda: env.bot.get_channel(int(thread_id)) is not None)
    assert fake.take_violations() == []


async def test_thread_name_over_100_characters_is_rejected(env: Env) -> None:
    """Discord's 100-character thread-name limit is enforced with 50035."""
    env.seen.futures.pop("thread", None)
    await env.fake.send_command(
        env.member, env.channel["id"], "character thread", {"name": "x" * 101}
    )
    assert await asyncio.wait_for(env.seen.future("thread"), 5) == 50035
    assert any("thread name" in v for v in env.fake.take_violations())


async def test_injected_rate_limit_is_retried(env: Env) -> None:
    """A 429 with Via and retry_after makes discord.py wait and retry once."""
    fake = env.fake
    fake.inject_rate_limit("POST", "/channels/{channel_id}/messages", retry_after=0.05)
    channel = env.bot.get_channel(int(env.channel["id"]))
    assert isinstance(channel, discord.TextChannel)
    before = len(fake.requests)
    sent = await channel.send("after a rate limit")
    statuses = [r.status for r in fake.requests[before:] if r.route.endswith("/messages")]
    assert statuses == [429, 200]
    assert fake.message(str(sent.id))["content"] == "after a rate limit"
    assert fake.take_violations() == []


async def test_unknown_route_is_recorded(env: Env) -> None:
    """A call to a route the fake does not serve is a 404 with a JSON body, and is recorded."""
    with pytest.raises(discord.NotFound):
        await env.bot.http.request(discord.http.Route("GET", "/nowhere/{x}", x=1))
    assert ("GET", "/api/v10/nowhere/1") in env.fake.unknown_routes
    assert env.fake.take_violations()


async def test_direct_message_opens_a_dm_channel(env: Env) -> None:
    """Sending to a user opens a DM channel and the message is listed under fake.dms()."""
    user = await env.bot.fetch_user(int(env.member.id))
    await user.send("hello there")
    assert [m["content"] for m in env.fake.dms(env.member.id)] == ["hello there"]
    assert env.fake.take_violations() == []


async def test_dropped_connection_is_resumed(env: Env) -> None:
    """After the socket drops, discord.py RESUMEs the session and still gets interactions."""
    fake = env.fake
    session = fake.sessions()[0]
    await fake.drop_connection(0)
    await fake.wait_until(lambda: session.resumes == 1 and session.connected, timeout=10)
    assert len(fake.identifies) == 1
    ix = await fake.send_command(
        env.member, env.channel["id"], "character show", {"character": "again"}
    )
    await ix.acknowledged()
    assert ix.original()["content"] == "again"
    assert fake.take_violations() == []


async def test_two_clients_with_disjoint_shards() -> None:
    """Two clients with shard_ids [0] and [1] each get only their own guilds and interactions."""
    fake = FakeDiscord(shard_count=2)
    await fake.start()
    old = point_discord_at(fake)
    guilds = [fake.add_guild(f"g{i}", shard_id=i) for i in (0, 1)]
    channels = [fake.add_text_channel(g.id, "general") for g in guilds]
    members = [fake.add_member(g.id, f"m{i}") for i, g in enumerate(guilds)]
    seen = [Seen(), Seen()]
    bots = [build_bot(seen[i], int(guilds[i].id), shard_ids=[i], shard_count=2) for i in (0, 1)]
    tasks = []
    try:
        for bot in bots:
            await bot.login(fake.token)
            tasks.append(asyncio.create_task(bot.connect()))
        await fake.wait_for_ready(timeout=10)
        assert sorted(i["shard"][0] for i in fake.identifies) == [0, 1]
        for i in (0, 1):
            ix = await fake.send_command(
                members[i], channels[i]["id"], "character show", {"character": f"c{i}"}
            )
            await ix.acknowledged()
            assert ix.original()["content"] == f"c{i}"
        await wait_until(lambda: all(len(b.guilds) == 1 for b in bots))
        assert [b.guilds[0].id for b in bots] == [int(g.id) for g in guilds]
        assert fake.take_violations() == []
    finally:
        for bot in bots:
            await bot.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await fake.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old
