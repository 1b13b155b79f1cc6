"""The load side of the end-to-end benchmarks: fake Discord and fake Gemini in this process,
moto's S3 server in its own process, a scratch database, and the bot in its own process
(``bench.botproc``), as in production where Discord, Gemini and S3 are other machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.botproc import LagSampler
from bench.common import ROOT, scratch_database
from bench.sides import code_root_env
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction, FakeMember
from tests.fakes.gemini_server import FakeGemini

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_process() -> Any:
    """moto's S3 server as a separate process; yields its endpoint URL with a bucket made."""
    import boto3  # type: ignore[import-untyped]

    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **AWS_ENV},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            if time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="bench")
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@dataclass
class BotProcess:
    """The bot's process and its JSON-lines pipe."""

    proc: asyncio.subprocess.Process
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _reader: asyncio.Task[None] | None = None

    def start_reading(self) -> None:
        async def read() -> None:
            assert self.proc.stdout is not None
            while line := await self.proc.stdout.readline():
                text = line.decode().strip()
                if text.startswith("{"):
                    await self.events.put(json.loads(text))
                elif text:
                    print(f"[bot] {text}", file=sys.stderr)

        self._reader = asyncio.create_task(read())

    async def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((command + "\n").encode())
        await self.proc.stdin.drain()

    async def expect(self, event: str, timeout: float = 60.0) -> dict[str, Any]:
        while True:
            got = await asyncio.wait_for(self.events.get(), timeout)
            if got.get("event") == event:
                return got

    async def request(self, command: str, event: str, timeout: float = 60.0) -> dict[str, Any]:
        await self.send(command)
        return await self.expect(event, timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class Stack:
    """What a benchmark drives: the fakes, and one bot process per shard (one by default), each
    shard with its own guild; members are spread over the guilds."""

    fake: FakeDiscord
    gemini: FakeGemini
    guilds: list[FakeGuild]
    channels: list[dict[str, Any]]
    bots: list[BotProcess]
    database_url: str
    lag: LagSampler  # this (the fakes') process's own event-loop lag, to tell harness delay
    _homes: dict[str, int] = field(default_factory=dict)
    workers: list[asyncio.subprocess.Process] = field(default_factory=list)
    """`charbot worker` processes beside the bot (``running_stack(workers=N)``)."""

    @property
    def bot(self) -> BotProcess:
        """The (first) bot process."""
        return self.bots[0]

    @property
    def guild(self) -> FakeGuild:
        return self.guilds[0]

    @property
    def channel(self) -> dict[str, Any]:
        return self.channels[0]

    def member(self, name: str) -> FakeMember:
        """A new member, in the guilds in turn (so in each shard in turn)."""
        home = len(self._homes) % len(self.guilds)
        member = self.fake.add_member(self.guilds[home].id, name)
        self._homes[member.id] = home
        return member

    def channel_of(self, member: FakeMember) -> dict[str, Any]:
        """The text channel of the member's guild."""
        return self.channels[self._homes.get(member.id, 0)]

    async def command(
        self, member: FakeMember, name: str, options: dict[str, Any] | None = None
    ) -> FakeInteraction:
        return await self.fake.send_command(
            member, self.channel_of(member)["id"], name, options or {}
        )

    def registered(self, name: str) -> bool:
        """Whether a top-level command is registered (synced by the bot)."""
        names = {c["name"] for c in self.fake.commands(self.guild.id)}
        names |= {c["name"] for c in self.fake.commands()}
        return name in names

    async def request_all(self, command: str, event: str) -> list[dict[str, Any]]:
        """Send a command to every bot process; their answers in shard order."""
        return list(await asyncio.gather(*(b.request(command, event) for b in self.bots)))


async def _start_bot(
    config: dict[str, Any], code_root: Path | None = None, module: str = "bench.botproc"
) -> BotProcess:
    """This tree's ``bench.botproc`` (or ``module``, speaking its protocol), importing the bot
    from ``code_root`` when given."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
        env={**os.environ, **AWS_ENV, **code_root_env(code_root)},
        limit=64 * 1024 * 1024,
    )
    bot = BotProcess(proc)
    bot.start_reading()
    await bot.send(json.dumps(config))
    return bot


async def _stop_bot(bot: BotProcess) -> None:
    proc = bot.proc
    with contextlib.suppress(Exception):
        await bot.request("stop", "stopped", timeout=30)
    if proc.returncode is None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 15)
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def running_stack(
    *,
    prefix: str,
    text_latency: float,
    image_latency: float,
    settings: dict[str, Any],
    pool_size: int | None = None,
    image_png: bytes | None = None,
    processes: int = 1,
    validate: bool = True,
    workers: int = 0,
    worker_settings: dict[str, Any] | None = None,
    code_root: Path | None = None,
    bot_module: str = "bench.botproc",
) -> AsyncIterator[Stack]:
    """Start everything; the bots are connected and the commands synced when this yields.

    ``processes`` > 1 runs that many bot processes, each serving one shard
    (``SHARD_COUNT``/``SHARD_IDS``, as a scaled-out deployment does), commands synced globally.
    ``code_root``: the bot code (and the migrations of its scratch database) come from that
    tree (``bench.sides.base_tree``); the measuring (``bench.botproc``) stays this tree's.
    ``bot_module``: the process run in the bot's place (``bench.barecreate``, the floor).
    """
    # validate=False: the fake skips checking each request against Discord's OpenAPI spec (the
    # test suite does that), so the harness takes less of the machine's CPU from the bot
    fake = (
        FakeDiscord(shard_count=processes) if validate else FakeDiscord(None, shard_count=processes)
    )
    await fake.start()
    gemini = FakeGemini(text_latency=text_latency, image_latency=image_latency)
    if image_png is not None:
        gemini.image_png = image_png
    await gemini.start()
    if processes == 1:
        guilds = [fake.add_guild("Bench Guild")]
    else:
        guilds = [fake.add_guild(f"Bench Guild {i}", shard_id=i) for i in range(processes)]
    channels = [fake.add_text_channel(g.id, "general") for g in guilds]
    lag = LagSampler()
    bots: list[BotProcess] = []
    spawned: list[asyncio.subprocess.Process] = []
    try:
        with moto_process() as s3_endpoint, tempfile.TemporaryDirectory() as tmp:
            async with scratch_database(prefix, code_root) as database_url:
                base = {
                    "discord_token": fake.token,
                    "discord_api_base_url": fake.api_base,
                    "discord_gateway_url": fake.gateway_url,
                    "database_url": database_url,
                    "data_dir": tmp,
                    "gemini_api_key": "bench-gemini-key-0123456789",
                    "gemini_base_url": gemini.base_url,
                    "gemini_timeout_seconds": 30.0,
                    "gemini_max_retries": 0,
                    "s3_bucket": "bench",
                    "s3_endpoint_url": s3_endpoint,
                    "s3_region": "us-east-1",
                    "shutdown_grace_seconds": 10.0,
                    "log_level": "WARNING",
                    **settings,
                    # DATABASE_POOL_SIZE: connections, and interactions working at once
                    **({"database_pool_size": pool_size} if pool_size else {}),
                }
                if processes == 1:
                    base["discord_dev_guild_id"] = int(guilds[0].id)
                try:
                    for shard in range(processes):
                        extra = (
                            {"shard_count": processes, "shard_ids": str(shard)}
                            if processes > 1
                            else {}
                        )
                        config = {"settings": {**base, **extra}, "env": AWS_ENV}
                        bots.append(await _start_bot(config, code_root, bot_module))
                        await bots[-1].expect("started", timeout=60)
                    await fake.wait_for_ready(shard_count=processes, timeout=60)
                    if processes == 1:
                        await fake.wait_until(lambda: bool(fake.commands(guilds[0].id)), 30)
                    else:
                        await fake.wait_until(lambda: bool(fake.commands()), 30)
                    for _ in range(workers):  # `charbot worker` processes
                        spawned.append(
                            await start_worker({**base, **(worker_settings or {})}, code_root)
                        )
                    lag.start()
                    yield Stack(
                        fake, gemini, guilds, channels, bots, database_url, lag, workers=spawned
                    )
                finally:
                    lag.stop()
                    await asyncio.gather(*(_stop_bot(b) for b in bots))
                    await asyncio.gather(*(stop_worker(w) for w in spawned))
    finally:
        await gemini.stop()
        await fake.stop()


async def start_worker(
    settings: dict[str, Any], code_root: Path | None = None
) -> asyncio.subprocess.Process:
    """A `charbot worker` process with these settings (as its environment); returns once it
    takes jobs."""
    env = {**os.environ, **AWS_ENV, **code_root_env(code_root)}
    env.update({k.upper(): str(v) for k, v in settings.items() if v is not None})
    env["LOG_LEVEL"] = "INFO"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "worker",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(code_root or ROOT),
        env=env,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    async with asyncio.timeout(60):
        while True:
            line = (await proc.stderr.readline()).decode(errors="replace")
            if not line:
                raise RuntimeError("the worker stopped:\n" + "".join(seen[-30:]))
            seen.append(line)
            if "taking generation jobs" in line:
                break

    async def drain() -> None:  # keep reading its log so it never blocks on a full pipe
        assert proc.stderr is not None
        while await proc.stderr.readline():
            pass

    task = asyncio.create_task(drain())
    _DRAINS.add(task)
    task.add_done_callback(_DRAINS.discard)
    return proc


_DRAINS: set[asyncio.Task[None]] = set()


async def stop_worker(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it does not stop in time."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def profile(pid: int, path: str, seconds: int) -> subprocess.Popen[bytes]:
    """py-spy (pip install py-spy into the venv) sampling the bot into a collapsed-stack file;
    stop it with SIGINT."""
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [
            str(spy),
            "record",
            "-p",
            str(pid),
            "-r",
            "250",
            "-f",
            "raw",
            "-o",
            path,
            "-d",
            str(seconds),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def warm_up(stack: Stack, members: list[FakeMember], batch: int = 10) -> None:
    """Every member runs /quota once (their user row is created), ten at a time."""
    for i in range(0, len(members), batch):
        sent = [await stack.command(m, "quota") for m in members[i : i + batch]]
        await asyncio.gather(*(ix.acknowledged(30) for ix in sent))


def final_embed(ix: FakeInteraction) -> bool:
    """The deferred reply now carries its result embed."""
    original = ix.original()
    return bool(original and original.get("embeds"))


class RssSampler:
    """Peak resident memory of a process over a window, measured from outside: psutil polled
    every ``interval`` in a thread, and (Linux) the kernel's high-water mark ``VmHWM``, reset at
    ``start`` by writing 5 to ``/proc/<pid>/clear_refs``, so a peak between two polls counts."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _hwm(self) -> int:
        with contextlib.suppress(OSError, ValueError):
            for row in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if row.startswith("VmHWM:"):
                    return int(row.split()[1]) * 1024
        return 0

    def start(self) -> None:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        process = psutil.Process(self.pid)

        def poll() -> None:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(psutil.Error):
                    self.peak = max(self.peak, process.memory_info().rss)
                    self.samples += 1

        self._thread = threading.Thread(target=poll, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> int:
        """Stop polling; the peak in bytes (the larger of the polls and VmHWM)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.peak = max(self.peak, self._hwm())
        return self.peak


async def bare_bot_idle() -> dict[str, Any]:
    """A bare discord.py bot (``bench.barebot``) logged into a fake Discord of its own: its RSS
    once connected and idle for a second, the floor for the bot's idle RSS."""
    fake = FakeDiscord(None)
    await fake.start()
    guild = fake.add_guild("Bare Guild")
    fake.add_text_channel(guild.id, "general")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.barebot",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )
    bot = BotProcess(proc)
    bot.start_reading()
    try:
        await bot.send(
            json.dumps(
                {
                    "discord_token": fake.token,
                    "discord_api_base_url": fake.api_base,
                    "discord_gateway_url": fake.gateway_url,
                    "guild_id": guild.id,
                }
            )
        )
        await bot.expect("started", timeout=60)
        await asyncio.sleep(1.0)
        return await bot.request("report", "report")
    finally:
        await _stop_bot(bot)
        await fake.stop()
