"""The composition root: builds the engine, storage and providers, and runs the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import discord
import yarl
from discord.ext import commands

from bot.config import Settings
from db.engine import make_engine, make_session_factory

log = logging.getLogger(__name__)


def point_discord_at(settings: Settings) -> None:
    """Send REST and gateway traffic to the configured URLs (a proxy, or the local fake)."""
    discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class CharBot(commands.AutoShardedBot):
    """The bot: sharded, no privileged intents, never pings anyone."""

    def __init__(self, settings: Settings) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings

    async def on_ready(self) -> None:
        log.info("connected as %s to %d guilds", self.user, len(self.guilds))


async def run_bot(settings: Settings, database_url: str) -> int:
    """Run until SIGINT/SIGTERM; every resource is closed on the way out."""
    point_discord_at(settings)
    engine = make_engine(database_url)
    make_session_factory(engine)
    bot = CharBot(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(settings.require_token())
    finally:
        await engine.dispose()
    return 0
