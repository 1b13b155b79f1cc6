"""100 concurrent /character create from 100 members against a fake Gemini that answers text in
0.2 s and images in 1.0 s (a 1024×1024 PNG of realistic size), side by side: this tree, then
the base commit (``bench.sides``), each on a fresh scratch database.

Measures, at the fake Discord, each create from INTERACTION_CREATE to the result embed on the
deferred reply, and the wall time from the first dispatch to the last result; inside the bot
process, the time of every stage (``bench.botproc``); from outside, the bot's CPU and its peak
RSS (``RssSampler``) while the creates run, and its idle RSS beside a bare discord.py bot's.
Targets (issue #19): bot CPU per create ≤ 0.5 × the base commit's; peak RSS ≤ 0.5 × the base
commit's; no failed create. Then a cProfile of this tree's bot over another run of the same
creates (its own pass: profiling slows the bot, so it never touches the figures above).

    .venv/bin/python -m bench.generation [--count 100] [--base COMMIT | --no-base]
        [--profile-top N]
    .venv/bin/python -m bench.generation --workers 2   (throughput beside one worker)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import pstats
import signal
import statistics
import time
from collections import Counter
from typing import Any

import psutil
from PIL import Image, ImageFilter

from bench.common import RESULTS, Target, finish, ms, percentile, summary, table
from bench.sides import Side, add_arguments, compare, floor_side, ratio_target, sides
from bench.stack import RssSampler, bare_bot_idle, final_embed, profile, running_stack, warm_up

TEXT_LATENCY = 0.2
IMAGE_LATENCY = 1.0
PROVIDER = TEXT_LATENCY + IMAGE_LATENCY
STAGES = (
    ("discord_defer", "Discord: defer (callback)"),
    ("caller_lookup", "DB: caller (user row)"),
    ("charge_transaction", "DB: charge + insert pending (txn)"),
    ("quota_charge_sql", "  of which the charge statement"),
    ("db_processing", "DB: mark processing"),
    ("provider_text", "Gemini text (0.2 s fake)"),
    ("provider_image", "Gemini image (1.0 s fake)"),
    ("thumbnail", "thumbnail (thread)"),
    ("storage_put", "S3 puts (image + thumb, sum)"),
    ("db_persist", "DB: persist + completed (txn)"),
    ("discord_progress_settle", "Discord: wait for a progress edit"),
    ("post_result", "Discord: result, thread, welcome + DB"),
    ("pipeline_total", "pipeline total"),
    ("flow_total", "bot flow total"),
)


def busy_seconds(before: Any, after: Any) -> float:
    """Machine-wide CPU seconds spent on anything but idling between two psutil.cpu_times()."""
    idle = ("idle", "iowait", "guest", "guest_nice")  # guest time is counted in user already
    spent = sum(getattr(after, f) - getattr(before, f) for f in after._fields if f not in idle)
    return float(spent)


def portrait_png(side: int = 1024) -> bytes:
    """A PNG the size a Gemini portrait has (1024², ~1.5 MB): a gradient with soft noise."""
    noise = Image.effect_noise((side, side), 40).filter(ImageFilter.GaussianBlur(0.6))
    gradient = Image.linear_gradient("L").resize((side, side))
    image = Image.merge("RGB", (noise, gradient, gradient.rotate(90)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def measure(
    side: Side, args: argparse.Namespace, png: bytes, *, cprofile: str | None = None
) -> dict[str, Any]:
    """One side's run: warm-up, then ``args.count`` concurrent creates; what was measured."""
    settings = {"generation_concurrency": args.concurrency, "quota_free": 1000}
    saved = os.environ.get("BENCH_CPROFILE")
    if cprofile:
        os.environ["BENCH_CPROFILE"] = cprofile
    else:
        os.environ.pop("BENCH_CPROFILE", None)
    try:
        async with running_stack(
            prefix="charbot_bench_gen",
            text_latency=TEXT_LATENCY,
            image_latency=IMAGE_LATENCY,
            settings=settings,
            pool_size=args.pool_size,
            image_png=png,
            code_root=side.code_root,
            bot_module=side.bot_module,
        ) as stack:
            await asyncio.sleep(1.0)
            settled = await stack.bot.request("report", "report")
            await asyncio.sleep(2.0)
            idle = await stack.bot.request("report", "report")
            members = [stack.member(f"maker{i:03d}") for i in range(args.count)]
            # Warm-up: every member's user row exists, the pool and prepared statements are warm.
            await warm_up(stack, members)
            for m in members[:3]:
                ix = await stack.command(m, "character create", {"description": "a warm-up knight"})
                await ix.wait_for(final_embed, 60)
            await asyncio.sleep(1.0)
            await stack.bot.request("mark", "marked")
            spy = (  # from the mark on: the creates only
                profile(stack.bot.pid, f"{args.profile}.{side.name}", 60)
                if args.profile and not cprofile
                else None
            )
            rss = RssSampler(stack.bot.pid)
            rss.start()
            stack.lag.samples.clear()
            first_request = len(stack.fake.requests)
            machine_before = psutil.cpu_times()

            done: dict[str, float] = {}

            async def watch(ix: Any) -> None:
                await ix.wait_for(final_embed, 120)
                done[ix.id] = stack.fake.clock.monotonic()

            start = time.monotonic()
            interactions = []
            watchers = []
            for i, member in enumerate(members):
                ix = await stack.command(
                    member,
                    "character create",
                    {"description": f"a tired space pirate number {i} with a mechanical arm"},
                )
                interactions.append(ix)
                watchers.append(asyncio.create_task(watch(ix)))
            dispatched = time.monotonic() - start
            results = await asyncio.gather(*watchers, return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            machine_busy = busy_seconds(machine_before, psutil.cpu_times())
            run_seconds = time.monotonic() - start
            report = await stack.bot.request("report", "report")
            deadline = time.monotonic() + 30
            while len(report["flows"]) < args.count and time.monotonic() < deadline:
                await asyncio.sleep(0.2)  # the thread and its welcome come after the result
                report = await stack.bot.request("report", "report")
            peak_rss = rss.stop()
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            routes = Counter(
                f"{r.method} {r.route}" for r in stack.fake.requests[first_request:] if r.status
            )
            violations = len(stack.fake.violations)
            fake_lag = summary(stack.lag.samples)
    finally:
        if saved is None:
            os.environ.pop("BENCH_CPROFILE", None)
        else:
            os.environ["BENCH_CPROFILE"] = saved

    e2e = [done[ix.id] - ix.created_at for ix in interactions if ix.id in done]
    first = min(ix.created_at for ix in interactions)
    return {
        "side": side.name,
        "commit": side.commit,
        "e2e": e2e,
        "acks": [ix.ack_delay for ix in interactions if ix.ack_delay is not None],
        "wall": max(done.values()) - first if done else float("nan"),
        "overhead": [t - PROVIDER for t in e2e],
        "flows": [f for f in report["flows"] if f.get("ok")],
        "failed": len(failures) + args.count - len(e2e),
        "routes": dict(routes),
        "violations": violations,
        "fake_lag": fake_lag,
        "report": report,
        "dispatched": dispatched,
        "run_seconds": run_seconds,
        "machine_busy": machine_busy,
        "cpu_seconds": report["cpu_since_mark"],
        "cpu_per_create": report["cpu_since_mark"] / args.count,
        # the bot's CPU while idle (heartbeats, the lag sampler), per second, for comparison
        "idle_cpu_rate": _cpu_rate(settled, idle),
        "peak_rss": peak_rss,
        "rss_samples": rss.samples,
        "idle_rss": idle["rss_bytes"],
        "missing_hooks": report.get("missing_hooks", []),
    }


def _cpu_rate(earlier: dict[str, Any], later: dict[str, Any]) -> float:
    """CPU seconds per second between two reports of the bot process."""
    cpu = later["cpu_user"] + later["cpu_system"] - earlier["cpu_user"] - earlier["cpu_system"]
    return float(cpu / max(1e-9, later["seconds_since_mark"] - earlier["seconds_since_mark"]))


def print_side(m: dict[str, Any], count: int) -> None:
    """The tables of one side."""
    print(f"\n--- {m['side']} ({m['commit']}) ---")
    if m["missing_hooks"]:
        print(f"not measured in this tree: {', '.join(m['missing_hooks'])}")
    acks, e2e, overhead = m["acks"], m["e2e"], m["overhead"]
    print(
        table(
            ["end to end (at the fake)", "n", "p50 ms", "p95 ms", "max ms"],
            [
                [
                    label,
                    len(v),
                    ms(percentile(v, 50)),
                    ms(percentile(v, 95)),
                    ms(max(v, default=float("nan"))),
                ]
                for label, v in (
                    ("ack (defer)", acks),
                    ("dispatch → result embed", e2e),
                    ("overhead (minus 1.2 s)", overhead),
                )
            ],
        )
    )
    print()
    rows = []
    for key, label in STAGES:
        values = [f[key] for f in m["flows"] if key in f]
        rows.append(
            [
                label,
                len(values),
                ms(percentile(values, 50)),
                ms(percentile(values, 95)),
                ms(max(values, default=float("nan"))),
            ]
        )
    print(table(["stage (inside the bot)", "n", "p50 ms", "p95 ms", "max ms"], rows))
    print()
    print(table(["Discord REST route (during the run)", "calls"], sorted(m["routes"].items())))
    print()
    lag = m["report"]["lag"]
    print(
        f"bot loop lag: p50 {ms(lag['p50'])} ms, p99 {ms(lag['p99'])} ms, max {ms(lag['max'])} ms;"
        f" fakes' loop lag p99 {ms(m['fake_lag']['p99'])} ms; dispatching the {count} took "
        f"{m['dispatched'] * 1000:.0f} ms; failed {m['failed']}; fake-Discord violations "
        f"{m['violations']}"
    )
    cores = psutil.cpu_count() or 1
    print(
        f"CPU while the {count} ran ({m['run_seconds']:.1f} s): bot process "
        f"{m['cpu_seconds']:.2f} s = {m['cpu_per_create'] * 1000:.1f} ms per create (idle: "
        f"{m['idle_cpu_rate'] * 1000:.0f} ms/s); whole machine (bot, fakes, moto, PostgreSQL) "
        f"{m['machine_busy']:.1f} s of the {cores * m['run_seconds']:.1f} s its {cores} cores had"
    )
    print(
        f"bot RSS: idle {m['idle_rss'] / 2**20:.0f} MiB, peak during the creates "
        f"{m['peak_rss'] / 2**20:.0f} MiB ({m['rss_samples']} samples + VmHWM), after "
        f"{m['report']['rss_bytes'] / 2**20:.0f} MiB"
    )


def floor_lines(
    floor: dict[str, Any], base: dict[str, Any] | None, count: int, png_bytes: int
) -> str:
    """The floor beside the base: where a target's limit lies below the floor, no change to
    the bot can meet it on this machine.

    CPU: the floor side's own CPU per create. Memory: the floor side's idle RSS (the libraries
    loaded, connected) plus one copy of the portrait per create in flight, the least the
    target allows ("no more copies of a portrait alive than the one being written"); the
    floor side's own peak is printed too, but it is no floor (it holds every answer it reads).
    """
    rows = [
        ("bot CPU per create, ms", floor["cpu_per_create"] * 1000, "cpu_per_create", 1000),
        (
            f"idle RSS + {count} portraits, MiB",
            (floor["idle_rss"] + count * png_bytes) / 2**20,
            "peak_rss",
            2**-20,
        ),
    ]
    lines = [
        "floor (bench.barecreate: the same create on the same libraries, no product around "
        f"it; failed {floor['failed']}, characters stored completed with both URLs "
        f"{floor['report'].get('stored', '?')}; its own peak RSS "
        f"{floor['peak_rss'] / 2**20:.0f} MiB, "
        f"idle {floor['idle_rss'] / 2**20:.0f} MiB):"
    ]
    for name, value, key, scale in rows:
        if base is None:
            lines.append(f"  {name}: {value:.1f}")
            continue
        share = value / (base[key] * scale)
        verdict = (
            "above the target's 0.5 x: out of reach for any change to the bot here"
            if share > 0.5
            else "within the target's 0.5 x"
        )
        lines.append(f"  {name}: {value:.1f} = {share:.2f} x the base's ({verdict})")
    return "\n".join(lines)


def thumbnail_floor(png: bytes, rounds: int = 10) -> dict[str, float]:
    """CPU seconds (median) of one thumbnail of ``png`` in this process, libvips and Pillow:
    the part of a create's cost no other change can remove."""
    from bot.storage import images, vips

    out: dict[str, float] = {}
    for name, use_vips in (("libvips", True), ("pillow", False)):
        if use_vips and not vips.AVAILABLE:
            out[name] = math.nan
            continue
        saved, vips.AVAILABLE = vips.AVAILABLE, use_vips
        try:
            times = []
            for _ in range(rounds):
                start = time.process_time()
                images._thumbnail(png, 256)
                times.append(time.process_time() - start)
        finally:
            vips.AVAILABLE = saved
        out[name] = statistics.median(times)
    return out


def print_profile(path: str, top: int) -> list[str]:
    """The bot's functions by own time, then by cumulative time (the create path)."""
    out = io.StringIO()
    pstats.Stats(path, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    pstats.Stats(path, stream=out).sort_stats("cumulative").print_stats(r"/(bot|cogs)/", top)
    text = out.getvalue()
    print(text)
    return text.splitlines()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--pool-size", type=int, default=None, help="override the DB pool")
    parser.add_argument("--side", type=int, default=1024, help="side of the fake's PNG, px")
    parser.add_argument("--profile", help="py-spy each side's bot into <this>.<side> (raw)")
    parser.add_argument(
        "--profile-top",
        type=int,
        default=25,
        help="cProfile this tree's bot over one more run and print the top N (0: skip)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="instead: throughput with this many `charbot worker` processes beside one "
        "(bench.workers, --count creates)",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the floor side (bench.barecreate: the least a create does on these libraries)",
    )
    add_arguments(parser)
    args = parser.parse_args()
    if args.workers:
        from bench import workers

        return await workers.compare_workers(args.count, args.workers, per_worker=8)
    png = portrait_png(args.side)
    print(f"fake Gemini image: {args.side}x{args.side} PNG, {len(png) / 1e6:.3f} MB")
    measured = []
    for side in sides(args):
        measured.append(await measure(side, args, png))
        print_side(measured[-1], args.count)
    floor = None
    if not args.no_floor:
        floor = await measure(floor_side(), args, png)
        print_side(floor, args.count)
    bare = await bare_bot_idle()
    this = measured[0]
    base = measured[1] if len(measured) > 1 else None

    def pair(key: str, scale: float = 1.0) -> tuple[float, float]:
        return this[key] * scale, (base[key] * scale if base else math.nan)

    def median(m: dict[str, Any] | None, key: str) -> float:
        return statistics.median(m[key]) if m and m[key] else math.nan

    print()
    print(
        compare(
            f"{args.count} concurrent creates, {args.side}² PNG",
            [
                ("bot CPU per create, ms", *pair("cpu_per_create", 1000)),
                ("bot peak RSS during the creates, MiB", *pair("peak_rss", 2**-20)),
                ("bot idle RSS, MiB", *pair("idle_rss", 2**-20)),
                ("bot CPU idle, ms per s", *pair("idle_cpu_rate", 1000)),
                ("wall for all, s", *pair("wall")),
                (
                    "median overhead (minus 1.2 s), ms",
                    median(this, "overhead") * 1000,
                    median(base, "overhead") * 1000,
                ),
                ("failed creates", *pair("failed")),
            ],
        )
    )
    print(f"bare discord.py bot (bench.barebot), idle RSS: {bare['rss_bytes'] / 2**20:.0f} MiB")
    floors = thumbnail_floor(png)
    held = this["idle_rss"] + args.count * len(png)
    print(
        f"floors, measured here: the thumbnail of this PNG alone costs "
        f"{floors['libvips'] * 1000:.1f} ms of CPU with libvips and "
        f"{floors['pillow'] * 1000:.1f} ms with Pillow (the base's); the bot's idle RSS plus "
        f"one copy of the PNG per create in flight is {held / 2**20:.0f} MiB"
        + (
            f" against 0.5 x the base's peak = {base['peak_rss'] / 2**21:.0f} MiB"
            if base is not None
            else ""
        )
    )

    if floor is not None:
        print(floor_lines(floor, base, args.count, len(png)))

    profile_lines: list[str] = []
    if args.profile_top > 0:
        path = str(RESULTS / "generation-cprofile.prof")
        RESULTS.mkdir(parents=True, exist_ok=True)
        print(f"\ncProfile of this tree's bot over {args.count} more creates ({path}):")
        await measure(sides(argparse.Namespace(no_base=True))[0], args, png, cprofile=path)
        profile_lines = print_profile(path, args.profile_top)

    targets = [Target("failed creates (this)", float(this["failed"]), 0.0)]
    if base is not None:
        targets += [
            ratio_target("bot CPU per create, ms", *pair("cpu_per_create", 1000), 0.5),
            ratio_target("bot peak RSS during 100 creates, MiB", *pair("peak_rss", 2**-20), 0.5),
        ]
    keep = ("e2e", "overhead", "acks")
    if floor is not None:
        measured.append(floor)
    data = {
        "count": args.count,
        "concurrency": args.concurrency,
        "image_bytes": len(png),
        "image_side": args.side,
        "bare_idle_rss_bytes": bare["rss_bytes"],
        "thumbnail_cpu_seconds": floors,
        "floor_rss_bytes": held,
        "sides": [
            {
                **{k: v for k, v in m.items() if k not in (*keep, "flows", "report")},
                **{k: summary(m[k]) for k in keep},
                "stages": {
                    key: summary([f[key] for f in m["flows"] if key in f]) for key, _ in STAGES
                },
                "bot_lag": m["report"]["lag"],
            }
            for m in measured
        ],
        "cprofile": profile_lines,
    }
    cpu = f"CPU/create {this['cpu_per_create'] * 1000:.1f} ms"
    rss = f"peak RSS {this['peak_rss'] / 2**20:.0f} MiB"
    if base is not None:
        cpu += f" (base {base['cpu_per_create'] * 1000:.1f})"
        rss += f" (base {base['peak_rss'] / 2**20:.0f})"
    headline = f"{args.count} creates: {cpu}, {rss}, wall {this['wall']:.2f} s"
    return finish("generation", targets, data, headline)


if __name__ == "__main__":
    from bench.common import run

    run(main)
