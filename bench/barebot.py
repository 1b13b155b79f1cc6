"""A bare discord.py bot, for a floor beside the real one: the same library, intents and event
loop (uvloop when installed), logged into the same fake Discord, and nothing else (no
database, no providers, no cogs, one slash command synced to the guild).

Same JSON-lines protocol as ``bench.botproc``: the config (``discord_token``,
``discord_api_base_url``, ``discord_gateway_url``, ``guild_id``) as the first stdin line;
``{"event": "started"}`` once READY; then ``report`` (RSS and CPU) and ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from typing import Any

import discord
import psutil
import yarl
from discord import app_commands


def emit(event: str, **data: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **data}, default=str) + "\n")
    sys.stdout.flush()


def bare_client(
    api_base_url: str, gateway_url: str
) -> tuple[discord.AutoShardedClient, app_commands.CommandTree[Any]]:
    """A discord.py client for the fake Discord at these URLs (guilds, guild and DM messages;
    no pings), and its command tree."""
    discord.http.Route.BASE = api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    client = discord.AutoShardedClient(
        intents=intents, allowed_mentions=discord.AllowedMentions.none()
    )
    return client, app_commands.CommandTree(client)


async def read_config() -> tuple[asyncio.StreamReader, dict[str, Any]]:
    """Stdin as a stream (the parent's commands) and its first line, the config (JSON); log
    warnings and worse to stderr. The protocol's start, for every bot process of a bench."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config: dict[str, Any] = json.loads(await reader.readline())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return reader, config


async def main() -> None:
    reader, config = await read_config()
    client, tree = bare_client(config["discord_api_base_url"], config["discord_gateway_url"])
    guild = discord.Object(int(config["guild_id"]))

    @tree.command(name="ping", description="pong", guild=guild)
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        ready.set()

    process = psutil.Process()
    await client.login(config["discord_token"])
    connect = asyncio.create_task(client.connect())
    try:
        await asyncio.wait_for(ready.wait(), 60)
        await tree.sync(guild=guild)
        emit("started", pid=os.getpid())
        while True:
            line = (await reader.readline()).decode().strip()
            if line in ("", "stop"):
                break
            if line == "report":
                cpu = process.cpu_times()
                emit("report", rss_bytes=process.memory_info().rss, cpu=cpu.user + cpu.system)
    finally:
        await client.close()
        connect.cancel()
        with contextlib.suppress(BaseException):
            await connect
    emit("stopped")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
