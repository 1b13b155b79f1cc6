"""The least a ``/character create`` must do, on the bot's own libraries: the floor of issue
#19's create targets, measured by the same benchmarks as the bot (its ``floor`` side).

On ``/character create description:…`` this process:

1. answers at once that it is creating (Discord needs an answer within 3 s; a message rather
   than a bare defer, so the member reads something, as the bot's first stage);
2. charges the member's quota in one statement, before anything is spent;
3. asks the text model for the attributes (JSON), then the image model for the portrait
   (google-genai on an aiohttp session of its own, as the bot);
4. edits that reply to the embed with the portrait attached, as soon as the portrait exists
   (issue #19's target 2 lets the rest finish after);
5. thumbnails the portrait (libvips, the bot's call) and uploads the portrait and the
   thumbnail at once (aioboto3 with the bot's client config; presigned URLs, as the bot signs
   them without a public base URL);
6. stores the character, completed, with both URLs, in one statement; opens its thread.

The portrait's message carries the Favorite button (``bench.baremix`` answers it, and the
other interactions of ``bench.interactions``' mix; ``/quota`` creates the member's row, the
benchmarks' warm-up). Everything else a create of the bot does is left out: the generation
and job rows, progress edits and the Cancel button, the retry and timeout policy, checking the
model's answers, the welcome in the thread, the other buttons, localisation, logs and metrics.
So its CPU and memory are a floor: what the same work costs in these libraries with no
product around it.

Same JSON-lines protocol as ``bench.botproc`` (config line, ``started``; ``mark``, ``report``,
``stop``), so ``bench.stack.running_stack(bot_module="bench.barecreate")`` runs it in place of
the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aioboto3
import aiohttp
import discord
import psutil
from discord import app_commands
from google import genai
from google.genai import types
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench import baremix
from bench.barebot import bare_client, read_config
from bench.botproc import GcTimer, LagSampler, emit
from bench.common import summary
from bot.ops.eventloop import freeze_startup_heap
from bot.storage import vips
from bot.storage.held import HeldBytes
from bot.storage.s3 import MAX_PRESIGN_SECONDS, s3_client_config

log = logging.getLogger("bench.barecreate")

CHARGE = text(
    "UPDATE users SET daily_used = daily_used + 1 WHERE auth0_id = :who"
    " AND daily_used < daily_quota RETURNING id"
)
STORED = text(
    "SELECT count(*) FROM characters WHERE generation_status = 'completed'"
    " AND image_url IS NOT NULL AND thumbnail_url IS NOT NULL"
)
STORE = text(
    "INSERT INTO characters (id, user_id, name, description, prompt, image_url, thumbnail_url,"
    " s3_url, generation_status) VALUES (:id, :user_id, :name, :description, :prompt,"
    " :image_url, :thumbnail_url, :image_url, 'completed') RETURNING id"
)


class Floor:
    """The create, and what the benchmark reads of it."""

    def __init__(
        self, settings: dict[str, Any], engine: AsyncEngine, gemini: genai.Client, s3: Any
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.gemini = gemini
        self.s3 = s3
        self.bucket = settings["s3_bucket"]
        self.flows: list[dict[str, Any]] = []

    async def statement(self, statement: Any, **values: Any) -> Any:
        async with self.engine.connect() as conn:  # autocommit: one round trip
            return (await conn.execute(statement, values)).first()

    async def rows(self, statement: Any, **values: Any) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            return (await conn.execute(statement, values)).all()

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        await self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=HeldBytes(data), ContentType=content_type
        )
        url: str = await self.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=MAX_PRESIGN_SECONDS,
        )
        return url

    async def create(self, interaction: discord.Interaction, description: str) -> None:
        started = time.perf_counter()
        await interaction.response.send_message(f"Creating {description[:80]}…")
        charged = await self.statement(CHARGE, who=f"discord|{interaction.user.id}")
        if charged is None:
            await interaction.edit_original_response(content="No quota left today.")
            return
        answer = await self.gemini.aio.models.generate_content(
            model=self.settings.get("gemini_text_model", "gemini-2.5-flash"),
            contents=f"Description: {description}\nArt style: realistic",
            config=types.GenerateContentConfig(response_mime_type="application/json"),
        )
        attributes = json.loads(answer.text or "{}")
        drawn = await self.gemini.aio.models.generate_content(
            model=self.settings.get("gemini_image_model", "gemini-2.5-flash-image"),
            contents=str(attributes["image_prompt"]),
            config=types.GenerateContentConfig(response_modalities=["IMAGE"]),
        )
        parts = drawn.candidates[0].content.parts if drawn.candidates else None
        png = next(p.inline_data.data for p in parts or [] if p.inline_data and p.inline_data.data)
        name = str(attributes["name"])
        character_id = str(uuid.uuid4())  # the button's, before the row exists
        embed = discord.Embed(title=name, description=description[:200])
        embed.set_image(url="attachment://portrait.png")
        message = await interaction.edit_original_response(  # visible as soon as it exists
            content=None,
            embed=embed,
            attachments=[discord.File(HeldBytes(png), "portrait.png")],
            view=baremix.favorite_view(character_id),
        )
        thumbnail = await asyncio.to_thread(vips.thumbnail, png, 256)
        key = f"characters/{charged.id}/{character_id}"
        image_url, thumbnail_url = await asyncio.gather(
            self.put(f"{key}.png", png, "image/png"),
            self.put(f"{key}.webp", thumbnail, "image/webp"),
        )
        await self.statement(
            STORE,
            id=character_id,
            user_id=charged.id,
            name=name,
            description=description,
            prompt=str(attributes["image_prompt"]),
            image_url=image_url,
            thumbnail_url=thumbnail_url,
        )
        await message.create_thread(name=name[:100])
        self.flows.append({"ok": True, "flow_total": time.perf_counter() - started})


def commands(tree: app_commands.CommandTree, floor: Floor, guild: discord.Object | None) -> None:
    group = app_commands.Group(name="character", description="characters")

    @group.command(name="create", description="create a character")
    async def create(interaction: discord.Interaction, description: str) -> None:
        try:
            await floor.create(interaction, description)
        except Exception:
            log.exception("create failed")
            floor.flows.append({"ok": False})

    baremix.commands(tree, group, floor.rows, guild)
    if guild is None:
        tree.add_command(group)
    else:
        tree.add_command(group, guild=guild)


async def main() -> None:
    reader, config = await read_config()
    settings: dict[str, Any] = config["settings"]
    os.environ.update(config.get("env", {}))
    client, tree = bare_client(settings["discord_api_base_url"], settings["discord_gateway_url"])
    guild_id = settings.get("discord_dev_guild_id")
    guild = discord.Object(int(guild_id)) if guild_id else None
    # as the bot's pool: every connection it may open is kept once opened (bot.app.open_deps)
    pool = int(settings.get("database_pool_size") or 10)
    pool += int(settings.get("database_max_overflow") or 20)
    engine = create_async_engine(
        settings["database_url"], pool_size=pool, max_overflow=0, isolation_level="AUTOCOMMIT"
    )
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), read_bufsize=2**22)
    gemini = genai.Client(
        api_key=settings["gemini_api_key"],
        http_options=types.HttpOptions(
            base_url=settings["gemini_base_url"],
            api_version="v1beta",
            retry_options=types.HttpRetryOptions(attempts=1),
            aiohttp_client=session,
        ),
    )
    endpoint = settings["s3_endpoint_url"]
    connections = max(10, 2 * int(settings.get("generation_concurrency") or 4))
    s3_config = s3_client_config(endpoint_url=endpoint, max_pool_connections=connections)
    process = psutil.Process()
    lag = LagSampler()
    gc_timer = GcTimer()
    async with aioboto3.Session().client(
        "s3", endpoint_url=endpoint, region_name=settings["s3_region"], config=s3_config
    ) as s3:
        with contextlib.suppress(Exception):
            await s3.create_bucket(Bucket=settings["s3_bucket"])
        floor = Floor(settings, engine, gemini, s3)
        commands(tree, floor, guild)
        ready = asyncio.Event()
        client.event(_on_ready(ready))
        client.event(baremix.on_interaction(floor.rows))
        freeze_startup_heap()  # the bot's process configuration (as bench.botproc)
        await client.login(settings["discord_token"])
        connect = asyncio.create_task(client.connect())
        marked_cpu, marked_at = 0.0, time.monotonic()
        try:
            await asyncio.wait_for(ready.wait(), 60)
            await tree.sync(guild=guild)
            lag.start()
            emit("started", pid=os.getpid())
            while True:
                line = (await reader.readline()).decode().strip()
                if line in ("", "stop"):
                    break
                cpu = process.cpu_times()
                if line == "mark":
                    marked_cpu, marked_at = cpu.user + cpu.system, time.monotonic()
                    lag.samples.clear()
                    gc_timer.pauses.clear()
                    floor.flows.clear()
                    emit("marked")
                elif line == "report":
                    emit(
                        "report",
                        lag=summary(lag.samples),
                        gc=gc_timer.report(),
                        rss_bytes=process.memory_info().rss,
                        cpu_user=cpu.user,
                        cpu_system=cpu.system,
                        cpu_since_mark=cpu.user + cpu.system - marked_cpu,
                        seconds_since_mark=time.monotonic() - marked_at,
                        flows=floor.flows,
                        missing_hooks=[],
                        stored=(await floor.statement(STORED))[0],
                    )
        finally:
            lag.stop()
            await client.close()
            connect.cancel()
            with contextlib.suppress(BaseException):
                await connect
            await session.close()
            await engine.dispose()
    emit("stopped")


def _on_ready(ready: asyncio.Event) -> Any:
    async def on_ready() -> None:
        ready.set()

    return on_ready


if __name__ == "__main__":
    from bot.ops.eventloop import run as run_loop

    run_loop(main())
