"""End-to-end harness: the real bot (discord.py, google-genai, aioboto3, asyncpg) against the
fake Discord, the fake Gemini, moto's S3 and the test PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import CharBot, open_bot
from bot.config import Settings
from tests.conftest import ROOT, truncate_all
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction, FakeMember
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.s3 import MotoS3, unique_bucket

VIOLATIONS: list[str] = []
"""Every OpenAPI/limit violation the fakes saw during the run (printed at the end)."""

LOG_SECRETS: set[str] = set()
"""The secrets of every bot the suite starts; the suite's log scan looks for them."""


@dataclass
class Stack:
    """The fakes, the guild they hold, and the running bot."""

    fake: FakeDiscord
    gemini: FakeGemini
    s3: MotoS3
    bucket: str
    database_url: str
    data_dir: Path
    guild: FakeGuild
    channel: dict[str, Any]
    bot: CharBot | None = None
    _bot_cm: Any = None
    _bot_task: asyncio.Task[None] | None = None
    members: list[FakeMember] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        """The bot's settings, pointed at the fakes."""
        values: dict[str, Any] = {
            "discord_token": self.fake.token,
            "discord_api_base_url": self.fake.api_base,
            "discord_gateway_url": self.fake.gateway_url,
            "database_url": self.database_url,
            "data_dir": self.data_dir,
            "gemini_api_key": "test-gemini-key-0123456789",
            "gemini_base_url": self.gemini.base_url,
            "gemini_timeout_seconds": 30.0,
            "gemini_max_retries": 1,
            "s3_bucket": self.bucket,
            "s3_endpoint_url": self.s3.endpoint_url,
            "s3_region": "us-east-1",
            "shutdown_grace_seconds": 5.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def start_bot(self, **overrides: Any) -> CharBot:
        """Start the bot in this event loop and wait until it is connected."""
        settings = self.settings(**overrides)
        LOG_SECRETS.update(settings.secrets())
        self._bot_cm = open_bot(settings, self.database_url)
        bot = await self._bot_cm.__aenter__()
        await bot.login(settings.require_token())
        self._bot_task = asyncio.create_task(bot.connect())
        await self.fake.wait_for_ready(timeout=15)
        self.bot = bot
        return bot

    async def stop_bot(self) -> None:
        """Close the bot and everything it opened."""
        if self.bot is None:
            return
        await self.bot.close()
        if self._bot_task is not None:
            self._bot_task.cancel()
            await asyncio.gather(self._bot_task, return_exceptions=True)
        await self._bot_cm.__aexit__(None, None, None)
        self.bot = None

    def member(self, name: str, **kwargs: Any) -> FakeMember:
        """A new member of the guild."""
        created = self.fake.add_member(self.guild.id, name, **kwargs)
        self.members.append(created)
        return created

    def mention(self, name: str) -> str:
        """``</name:id>``, as the bot should write command ``name`` ("mod setup"): with the id
        the fake gave its top-level command when it was synced (globally, else to the guild)."""
        top = name.split(maxsplit=1)[0]
        registered = self.fake.commands() or self.fake.commands(self.guild.id)
        command = next(c for c in registered if c["name"] == top and c["type"] == 1)
        return f"</{name}:{command['id']}>"

    async def command(
        self, member: FakeMember, name: str, options: dict[str, Any] | None = None, **kw: Any
    ) -> FakeInteraction:
        """Send a slash command in the main channel (or ``channel_id=``)."""
        channel_id = kw.pop("channel_id", self.channel["id"])
        return await self.fake.send_command(member, channel_id, name, options or {}, **kw)


def disabled_components(message: dict[str, Any]) -> bool:
    """Whether some component on the message is disabled (a new character's card shows its
    buttons disabled until the character is saved)."""

    def walk(components: list[dict[str, Any]]) -> bool:
        return any(c.get("disabled") or walk(c.get("components") or []) for c in components)

    return walk(message.get("components") or [])


def final(ix: FakeInteraction) -> dict[str, Any] | None:
    """The deferred response once it carries its finished result: an embed, its buttons
    enabled (a card shown before its character was saved is not final yet)."""
    original = ix.original()
    if original is None:
        return None
    if original.get("embeds") and not disabled_components(original):
        return original
    return None


async def wait_final(ix: FakeInteraction, timeout: float = 20.0) -> dict[str, Any]:
    """Wait for the finished result of a generating command (its card with working buttons)."""
    await ix.wait_for(lambda i: final(i) is not None, timeout)
    result = final(ix)
    assert result is not None
    return result


async def wait_reply(ix: FakeInteraction, timeout: float = 10.0) -> dict[str, Any]:
    """The reply as the member sees it: the immediate answer (callback type 4), or the deferred
    response once it is filled in."""

    def reply() -> dict[str, Any] | None:
        original = ix.original()  # the message as stored, with its id (buttons can be pressed)
        for cb in ix.callbacks:
            if cb["type"] == 4:
                return dict(original) if original is not None else dict(cb.get("data") or {})
        if original is not None and (original.get("content") or original.get("embeds")):
            return original
        return None

    await ix.wait_for(lambda _: reply() is not None, timeout)
    found = reply()
    assert found is not None
    return found


async def wait_update(ix: FakeInteraction, timeout: float = 10.0) -> None:
    """Wait until a component press has updated its message: at once (callback type 7), or
    after a deferred update (type 6) through an edit of the original response."""
    await ix.wait_for(lambda i: any(cb["type"] == 7 for cb in i.callbacks) or i.edits > 0, timeout)


async def wait_ephemeral_text(ix: FakeInteraction, timeout: float = 10.0) -> str:
    """Wait for an ephemeral text answer (the reply, or a followup) and return it."""

    def text() -> str | None:
        for message in ix.messages():
            if message.get("flags", 0) & 64 and message.get("content"):
                return str(message["content"])
        for cb in ix.callbacks:
            data = cb.get("data") or {}
            if int(data.get("flags") or 0) & 64 and data.get("content"):
                return str(data["content"])
        return None

    await ix.wait_for(lambda _: text() is not None, timeout)
    found = text()
    assert found is not None
    return found


@contextlib.asynccontextmanager
async def running_stack(
    database_url: str, tmp: Path, *, gemini: FakeGemini | None = None
) -> AsyncIterator[Stack]:
    """Start the fakes and a guild; the bot is started by the test (``stack.start_bot()``)."""
    fake = FakeDiscord(require_silent_mentions=True)
    await fake.start()
    own_gemini = gemini is None
    gem = gemini or FakeGemini()
    if own_gemini:
        await gem.start()
    s3 = MotoS3()
    s3.start()
    bucket = unique_bucket("e2e")
    s3.create_bucket(bucket)
    guild = fake.add_guild("Camelot")
    channel = fake.add_text_channel(guild.id, "general")
    stack = Stack(fake, gem, s3, bucket, database_url, tmp, guild, channel)
    try:
        yield stack
    finally:
        await stack.stop_bot()
        VIOLATIONS.extend(fake.take_violations())
        await fake.stop()
        if own_gemini:
            await gem.stop()
        s3.stop()


def bot_stack(name: str) -> Any:
    """A module's ``stack`` fixture: the fakes, a guild and the bot with its default settings,
    for the whole module (``name``: its data directory's); the tables emptied after it."""

    @pytest.fixture(scope="module", name="stack")
    async def stack(
        database_url: str, engine: Any, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[Stack]:
        async with running_stack(database_url, tmp_path_factory.mktemp(name)) as s:
            await s.start_bot()
            yield s
        await truncate_all(engine)

    return stack


def requests_checked() -> Any:
    """A module's autouse ``no_violations`` fixture: every request the bot sends in a test
    passes the OpenAPI spec and Discord's limits (among them: every message with content
    carries allowed_mentions that ping nobody)."""

    @pytest.fixture(autouse=True, name="no_violations")
    def no_violations(stack: Stack) -> Iterator[None]:
        collect_violations(stack)
        yield
        assert collect_violations(stack) == []

    return no_violations


async def character_thread(stack: Stack, message: dict[str, Any]) -> str:
    """The character's thread, once opened (a thread started on a message shares its id) and
    its welcome line posted (which happens after the conversation is stored)."""
    await stack.fake.wait_until(
        lambda: (
            message["id"] in stack.fake.threads and bool(stack.fake.channel_messages(message["id"]))
        ),
        timeout=10,
    )
    return str(message["id"])


def collect_violations(stack: Stack) -> list[str]:
    """Take the fake's violations so far, adding them to the suite's count."""
    found = stack.fake.take_violations()
    VIOLATIONS.extend(found)
    return found


def custom_ids(message: dict[str, Any]) -> list[str]:
    """Every component custom_id on a stored message."""
    out: list[str] = []

    def walk(components: list[dict[str, Any]]) -> None:
        for component in components:
            if "custom_id" in component:
                out.append(component["custom_id"])
            walk(component.get("components") or [])

    walk(message.get("components") or [])
    return out


def find_id(message: dict[str, Any], suffix: str) -> str:
    """The custom_id on a message ending with ``suffix``."""
    return next(cid for cid in custom_ids(message) if cid.endswith(suffix))


Predicate = Callable[[FakeInteraction], bool]


def process_env(stack: Stack, **extra: str) -> dict[str, str]:
    """The environment of a real `charbot` process (run, worker, doctor) against the stack's
    fakes, database and bucket (``extra``: more settings)."""
    settings = stack.settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GEMINI_", "S3_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": stack.fake.token,
            "DISCORD_API_BASE_URL": stack.fake.api_base,
            "DISCORD_GATEWAY_URL": stack.fake.gateway_url,
            "DATABASE_URL": stack.database_url,
            "DATA_DIR": str(stack.data_dir),
            "GEMINI_API_KEY": settings.gemini_api_key.get_secret_value(),  # type: ignore[union-attr]
            "GEMINI_BASE_URL": stack.gemini.base_url,
            "S3_BUCKET": stack.bucket,
            "S3_ENDPOINT_URL": stack.s3.endpoint_url,
            "S3_REGION": "us-east-1",
            "LOG_LEVEL": "INFO",
            **extra,
        }
    )
    return env


async def until_drawing(stack: Stack, timeout: float = 10.0) -> None:
    """Wait until the fake Gemini is asked for an image and is answering it: a generation is
    under way."""
    for _ in range(round(timeout / 0.05)):
        if stack.gemini.in_flight and any(
            r.model == "gemini-2.5-flash-image" for r in stack.gemini.requests
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the generation never reached the image model")
