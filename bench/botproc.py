"""The bot process of a benchmark: the real bot (``bot.app.open_bot``), plus measurement.

The benchmark process holds the fakes (Discord, Gemini) and the load; the bot runs here, in
its own process and event loop, as in production, so the fakes' work does not count as the
bot's. Besides the bot this process runs:

- an event-loop lag sampler: a task that asks to wake up every 10 ms and records how late it
  actually woke (``loop.time()`` after the sleep minus the time it asked for);
- timers around the stages of /character create (defer, caller lookup, the charge transaction,
  the pipeline with its own ``Outcome.timings``, the wait for a progress edit still on its way
  at the end, the final post), wrapped
  around the module functions the cog calls, so no bot code changes.

Protocol (JSON lines): the parent writes the config as the first stdin line; this process
prints ``{"event": "started"}`` once the bot is logged in and connecting. Then stdin commands:
``mark`` (start a new measurement window), ``report`` (print ``{"event": "report", ...}``),
``stop`` (close the bot, print ``{"event": "stopped"}``, exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import cProfile
import functools
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psutil

from bench.barebot import read_config
from bench.common import summary
from bench.timeline import Timeline

LAG_INTERVAL = 0.010

_flow: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "bench_flow", default=None
)


def emit(event: str, **data: Any) -> None:
    """One JSON line to the parent."""
    sys.stdout.write(json.dumps({"event": event, **data}, default=str) + "\n")
    sys.stdout.flush()


class GcTimer:
    """Time spent in the garbage collector's pauses (gc.callbacks), per generation."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), time.perf_counter() - self._start))

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for gen in (0, 1, 2):
            values = [p for g, p in self.pauses if g == gen]
            out[f"gen{gen}"] = {
                "count": len(values),
                "total": sum(values),
                "max": max(values, default=0.0),
            }
        return out


class LagSampler:
    """Records how late the event loop wakes a task that sleeps LAG_INTERVAL at a time."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_INTERVAL
            await asyncio.sleep(LAG_INTERVAL)
            self.samples.append(max(0.0, loop.time() - due))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def _add(key: str, seconds: float) -> None:
    record = _flow.get()
    if record is not None:
        record[key] = record.get(key, 0.0) + seconds


def _timed(key: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            _add(key, time.perf_counter() - start)

    return wrapper


def _wrap(owner: Any, name: str, key: str, missing: list[str]) -> None:
    """Replace ``owner.name`` by a timed wrapper; note it in ``missing`` when that tree (the
    base side of a comparison, say) has no such function."""
    fn = getattr(owner, name, None)
    if fn is None:
        missing.append(f"{getattr(owner, '__name__', type(owner).__name__)}.{name}")
        return
    setattr(owner, name, _timed(key, fn))


class Instruments:
    """Per-/character create stage timings, collected without touching the bot's code.

    Each hook is optional: a name the bot's tree does not have (the base side of a
    comparison, or code rewritten since) is listed in ``missing`` and its stage goes
    unmeasured."""

    def __init__(self) -> None:
        self.flows: list[dict[str, float]] = []
        self.missing: list[str] = []

    def install(self, bot: Any) -> None:
        import importlib

        def module(name: str) -> Any:
            try:
                return importlib.import_module(name)
            except ImportError:
                self.missing.append(name)
                return None

        flows = module("cogs.characters.flows")
        create_module = module("bot.services.generation.create")
        caller_module = module("bot.interactions.caller")
        if flows is not None and hasattr(flows, "create_flow"):
            original_flow = flows.create_flow

            async def create_flow(*args: Any, **kwargs: Any) -> None:
                record: dict[str, float] = {}
                token = _flow.set(record)
                start = time.perf_counter()
                try:
                    await original_flow(*args, **kwargs)
                    record["ok"] = 1.0
                finally:
                    record["flow_total"] = time.perf_counter() - start
                    _flow.reset(token)
                    self.flows.append(record)

            flows.create_flow = create_flow
        else:
            self.missing.append("cogs.characters.flows.create_flow")
        if flows is not None:
            _wrap(flows, "defer", "discord_defer", self.missing)
            _wrap(flows, "post_character", "post_result", self.missing)
            # progress edits run beside the generation; the flow only waits, at the end, for
            # an edit still on its way
            reporter = getattr(flows, "ProgressReporter", None)
            if reporter is not None:
                _wrap(reporter, "settle", "discord_progress_settle", self.missing)
        if create_module is not None:
            _wrap(create_module, "charge", "quota_charge_sql", self.missing)
        if caller_module is not None:
            _wrap(caller_module, "resolve_member", "caller_lookup", self.missing)

        pipe = getattr(getattr(bot, "deps", None), "pipeline", None)
        if pipe is None or not hasattr(pipe, "create_character"):
            self.missing.append("bot.deps.pipeline.create_character")
            return
        original_create = pipe.create_character

        async def create_character(*args: Any, **kwargs: Any) -> Any:
            record = _flow.get()
            if record is not None:
                record["_create_start"] = time.perf_counter()
            start = time.perf_counter()
            outcome = await original_create(*args, **kwargs)
            _add("pipeline_total", time.perf_counter() - start)
            for key, value in (getattr(outcome, "timings", None) or {}).items():
                _add(key, value)
            return outcome

        pipe.create_character = create_character
        runner = getattr(pipe, "runner", None)
        if runner is None or not hasattr(runner, "run"):
            self.missing.append("bot.deps.pipeline.runner.run")
            return
        original_run = runner.run

        async def run(*args: Any, **kwargs: Any) -> Any:
            record = _flow.get()
            if record is not None and "_create_start" in record:
                record["charge_transaction"] = time.perf_counter() - record["_create_start"]
            return await _timed("pipeline_run", original_run)(*args, **kwargs)

        runner.run = run


def _settings(config: dict[str, Any]) -> Any:
    """The bot's Settings from the config; keys that tree's Settings does not know (the base
    side of a comparison) are left out."""
    from bot.config import Settings

    known = set(Settings.model_fields)
    given = {k: v for k, v in config["settings"].items() if k in known}
    return Settings(_env_file=None, **given)


async def main() -> None:
    reader, config = await read_config()
    os.environ.update(config.get("env", {}))

    from bot.app import open_bot
    from bot.ops.eventloop import freeze_startup_heap

    settings = _settings(config)
    lag = LagSampler()
    gc_timer = GcTimer()
    instruments = Instruments()
    timeline = Timeline()
    process = psutil.Process()
    marked_cpu = 0.0
    # BENCH_CPROFILE=<file>: a deterministic profile of the measured window (slows the bot)
    profiler = cProfile.Profile() if os.environ.get("BENCH_CPROFILE") else None
    marked_at = time.monotonic()
    async with open_bot(settings, config["settings"]["database_url"]) as bot:
        instruments.install(bot)
        timeline.install(bot)
        freeze_startup_heap()  # as bot.app.run_bot does
        await bot.login(settings.require_token())
        connect = asyncio.create_task(bot.connect())
        lag.start()
        emit("started", pid=os.getpid())
        try:
            while True:
                line = (await reader.readline()).decode().strip()
                if line in ("", "stop"):
                    break
                if line == "mark":
                    if profiler is not None:
                        profiler.enable()
                    marked_cpu = sum(process.cpu_times()[:2])
                    marked_at = time.monotonic()
                    lag.samples.clear()
                    gc_timer.pauses.clear()
                    instruments.flows.clear()
                    timeline.clear()
                    emit("marked")
                elif line == "report":
                    if profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(os.environ["BENCH_CPROFILE"])
                    cpu = process.cpu_times()
                    emit(
                        "report",
                        lag=summary(lag.samples),
                        lag_samples=len(lag.samples),
                        rss_bytes=process.memory_info().rss,
                        cpu_user=cpu.user,
                        cpu_system=cpu.system,
                        gc=gc_timer.report(),
                        cpu_since_mark=cpu.user + cpu.system - marked_cpu,
                        seconds_since_mark=time.monotonic() - marked_at,
                        timeline=timeline.report(),
                        counts=timeline.counts,
                        missing_hooks=instruments.missing,
                        bot_package=str(sys.modules["bot"].__file__),
                        flows=[
                            {k: v for k, v in f.items() if not k.startswith("_")}
                            for f in instruments.flows
                        ],
                    )
        finally:
            lag.stop()
            await bot.close()
            connect.cancel()
            with contextlib.suppress(BaseException):
                await connect
    emit("stopped")


if __name__ == "__main__":
    from bench.sides import use_code_root

    use_code_root()  # BENCH_CODE_ROOT: the bot from another tree (bench.sides)
    from bot.ops.eventloop import run as run_loop

    run_loop(main())
