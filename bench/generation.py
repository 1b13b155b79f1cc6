"""100 concurrent /character create from 100 members against a fake Gemini that answers text in
0.2 s and images in 1.0 s (a 1024×1024 PNG of realistic size).

Measures, at the fake Discord, each create from INTERACTION_CREATE to the result embed on the
deferred reply, and the wall time from the first dispatch to the last result; inside the bot
process, the time of every stage (``bench.botproc``). Targets: wall ≤ 1.3 × 1.2 s; median
overhead (end to end minus the provider's 1.2 s) ≤ 5 % of 1.2 s.

    .venv/bin/python -m bench.generation [--count 100] [--concurrency 128]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import signal
import statistics
import time
from collections import Counter
from typing import Any

import psutil
from PIL import Image, ImageFilter

from bench.common import Target, finish, ms, percentile, summary, table
from bench.stack import final_embed, profile, running_stack, warm_up

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
    ("thumbnail", "thumbnail (Pillow, thread)"),
    ("storage_put", "S3 puts (image + thumb, sum)"),
    ("db_persist", "DB: persist + completed (txn)"),
    ("discord_progress_settle", "Discord: wait for a progress edit"),
    ("post_result", "Discord: result, thread, welcome + DB"),
    ("pipeline_total", "pipeline total"),
    ("flow_total", "bot flow total"),
)


def _busy_seconds(before: Any, after: Any) -> float:
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


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--pool-size", type=int, default=None, help="override the DB pool")
    parser.add_argument("--side", type=int, default=1024, help="side of the fake's PNG, px")
    parser.add_argument("--profile", help="py-spy the bot during the run into this raw file")
    args = parser.parse_args()
    png = portrait_png(args.side)
    print(f"fake Gemini image: {args.side}x{args.side} PNG, {len(png) / 1e6:.3f} MB")
    settings = {"generation_concurrency": args.concurrency, "quota_free": 1000}
    async with running_stack(
        prefix="charbot_bench_gen",
        text_latency=TEXT_LATENCY,
        image_latency=IMAGE_LATENCY,
        settings=settings,
        pool_size=args.pool_size,
        image_png=png,
    ) as stack:
        spy = profile(stack.bot.pid, args.profile, 90) if args.profile else None
        members = [stack.member(f"maker{i:03d}") for i in range(args.count)]
        # Warm-up: every member's user row exists, the pool and prepared statements are warm.
        await warm_up(stack, members)
        for m in members[:3]:
            ix = await stack.command(m, "character create", {"description": "a warm-up knight"})
            await ix.wait_for(final_embed, 60)
        await asyncio.sleep(1.0)
        await stack.bot.request("mark", "marked")
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
        machine_busy = _busy_seconds(machine_before, psutil.cpu_times())
        run_seconds = time.monotonic() - start
        report = await stack.bot.request("report", "report")
        deadline = time.monotonic() + 30
        while len(report["flows"]) < args.count and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # the thread and its welcome come after the result
            report = await stack.bot.request("report", "report")
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        routes = Counter(
            f"{r.method} {r.route}" for r in stack.fake.requests[first_request:] if r.status
        )
        violations = len(stack.fake.violations)
        fake_lag = summary(stack.lag.samples)

    e2e = [done[ix.id] - ix.created_at for ix in interactions if ix.id in done]
    acks = [ix.ack_delay for ix in interactions if ix.ack_delay is not None]
    first = min(ix.created_at for ix in interactions)
    wall = max(done.values()) - first if done else float("nan")
    overhead = [t - PROVIDER for t in e2e]
    flows = [f for f in report["flows"] if f.get("ok")]

    print()
    print(
        table(
            ["end to end (at the fake)", "n", "p50 ms", "p95 ms", "max ms"],
            [
                [
                    "ack (defer)",
                    len(acks),
                    ms(percentile(acks, 50)),
                    ms(percentile(acks, 95)),
                    ms(max(acks, default=float("nan"))),
                ],
                [
                    "dispatch → result embed",
                    len(e2e),
                    ms(percentile(e2e, 50)),
                    ms(percentile(e2e, 95)),
                    ms(max(e2e, default=float("nan"))),
                ],
                [
                    "overhead (minus 1.2 s)",
                    len(overhead),
                    ms(percentile(overhead, 50)),
                    ms(percentile(overhead, 95)),
                    ms(max(overhead, default=float("nan"))),
                ],
            ],
        )
    )
    print()
    rows = []
    for key, label in STAGES:
        values = [f[key] for f in flows if key in f]
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
    print(table(["Discord REST route (during the run)", "calls"], sorted(routes.items())))
    print()
    lag = report["lag"]
    print(
        f"bot loop lag: p50 {ms(lag['p50'])} ms, p99 {ms(lag['p99'])} ms, max {ms(lag['max'])} ms;"
        f" fakes' loop lag p99 {ms(fake_lag['p99'])} ms; bot RSS "
        f"{report['rss_bytes'] / 2**20:.0f} MiB; dispatching the {args.count} took "
        f"{dispatched * 1000:.0f} ms; failures {len(failures)}; fake-Discord violations "
        f"{violations}"
    )
    cores = psutil.cpu_count() or 1
    print(
        f"CPU while the {args.count} ran ({run_seconds:.1f} s): bot process "
        f"{report['cpu_since_mark']:.1f} s; whole machine (bot, fakes, moto, PostgreSQL) "
        f"{machine_busy:.1f} s of the {cores * run_seconds:.1f} s its {cores} cores had"
    )
    median_overhead = statistics.median(overhead) if overhead else float("nan")
    targets = [
        Target("wall time for all", wall, 1.3 * PROVIDER, " s"),
        Target("median overhead / provider latency", median_overhead / PROVIDER * 100, 5.0, " %"),
        Target("failed creates", float(len(failures) + args.count - len(e2e)), 0.0),
    ]
    data = {
        "count": args.count,
        "concurrency": args.concurrency,
        "image_bytes": len(png),
        "image_side": args.side,
        "wall_seconds": wall,
        "e2e": summary(e2e),
        "overhead": summary(overhead),
        "ack": summary(acks),
        "stages": {key: summary([f[key] for f in flows if key in f]) for key, _ in STAGES},
        "routes": dict(routes),
        "bot_lag": lag,
        "fakes_lag": fake_lag,
        "bot_rss_bytes": report["rss_bytes"],
        "bot_cpu_seconds": report["cpu_since_mark"],
        "machine_busy_seconds": machine_busy,
        "run_seconds": run_seconds,
        "violations": violations,
    }
    headline = (
        f"{args.count} creates, wall {wall:.3f} s (target {1.3 * PROVIDER:.2f}), median overhead "
        f"{median_overhead * 1000:.0f} ms = {median_overhead / PROVIDER * 100:.1f}% of 1.2 s"
    )
    return finish("generation", targets, data, headline)


if __name__ == "__main__":
    from bench.common import run

    run(main)
