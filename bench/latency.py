"""From the command to the portrait in the channel, beside the provider's own time (issue #19,
targets 2 and 5), side by side: this tree, then the base commit (``bench.sides``).

Target 2, a single create: one member, the fake Gemini answering each call in 0.5 s, a 1024²
PNG; from the command (the fake Discord sending INTERACTION_CREATE) to the portrait visible
(the request carrying the portrait's attachment arrived at the fake Discord) ≤ 1.08 × the
provider's own time (the sum of the create's Gemini calls' latencies as the fake applied
them). Repeated ``--runs`` times, one after another; the target is on the median.

Target 5, 100 concurrent creates from 100 members with realistic provider timing: each
create's text call takes uniform [1, 2] s and its image call uniform [5, 9] s, drawn from
``random.Random(--seed)`` per create (the same on both sides). Wall (first command to last
portrait visible) ≤ 1.15 × the slowest create's provider time; median overhead
((visible − command − provider) / provider) ≤ 5 %.

Measured at the fakes only (``bench.portraits``): the bot is not hooked, so a tree that posts
the portrait earlier or later is measured as it is.

    .venv/bin/python -m bench.latency [--runs 5] [--count 100] [--seed 19]
        [--concurrency 128] [--base COMMIT | --no-base] [--no-floor]
        [--profile FILE [--profile-seconds 30]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import statistics
from typing import Any

import psutil

from bench.common import Target, finish, ms, percentile, summary, table
from bench.generation import STAGES, busy_seconds, portrait_png
from bench.portraits import Create, Latencies, PortraitWatch, attribute, description, plan
from bench.sides import Side, add_arguments, compare, floor_side, sides
from bench.stack import Stack, profile, running_stack, warm_up

SINGLE_LATENCY = 0.5  # target 2: each Gemini call
SINGLE_LIMIT = 1.08
WALL_LIMIT = 1.15
OVERHEAD_LIMIT = 0.05
TEXT_RANGE = (1.0, 2.0)  # target 5
IMAGE_RANGE = (5.0, 9.0)
SINGLE_FIRST = 1000  # create numbers (tags): target 2's runs, its warm-up; target 5 from 0
WARM_FIRST = 2000
PHASES = (
    ("to_text_call", "command → text call at Gemini"),
    ("text_to_image_call", "text answer → image call"),
    ("image_to_visible", "image answer → portrait visible"),
)


def _median(values: list[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


async def _create(stack: Stack, member: Any, number: int) -> Create:
    ix = await stack.command(member, "character create", {"description": description(number)})
    return Create(number, ix)


async def single(stack: Stack, runs: int) -> dict[str, Any]:
    """Target 2: one member's creates, one at a time, each once the last one had settled."""
    member = stack.member("solo")
    await warm_up(stack, [member])
    creates: list[Create] = []
    for n in range(WARM_FIRST, WARM_FIRST + 2):  # warm the create path (not counted)
        warm = await _create(stack, member, n)
        await stack.fake.wait_until(PortraitWatch(stack.fake, [warm]).scan, 60)
        await asyncio.sleep(1.0)
    await stack.bot.request("mark", "marked")
    since = len(stack.gemini.requests)
    for n in range(SINGLE_FIRST, SINGLE_FIRST + runs):
        watch = PortraitWatch(stack.fake, [])
        create = await _create(stack, member, n)
        watch.add(create)
        with contextlib.suppress(TimeoutError):  # never seen: counted as failed
            await stack.fake.wait_until(watch.scan, 60)
        creates.append(create)
        await asyncio.sleep(1.0)  # the thread, its welcome and the last writes: let them pass
    flows = (await stack.bot.request("report", "report"))["flows"]
    orphans = attribute(stack.gemini, creates, since)
    ratios = [c.end_to_end / c.provider for c in creates]
    return {
        "creates": [c.record() for c in creates],
        "ratios": ratios,
        "ratio_median": _median(ratios),
        "ratio_worst": max((r for r in ratios if not math.isnan(r)), default=math.nan),
        "end_to_end_median": _median([c.end_to_end for c in creates]),
        "provider_median": _median([c.provider for c in creates]),
        "phases": {k: _median([c.phases().get(k, math.nan) for c in creates]) for k, _ in PHASES},
        "failed": sum(1 for c in creates if c.visible is None),
        "stages": {k: summary([f[k] for f in flows if k in f]) for k, _ in STAGES},
        "orphan_calls": orphans,
    }


async def concurrent(stack: Stack, count: int, seed: int, hook: Latencies) -> dict[str, Any]:
    """Target 5: ``count`` members' creates at once, each with its own planned latencies."""
    members = [stack.member(f"maker{i:03d}") for i in range(count)]
    await warm_up(stack, members)
    hook.planned.update(plan(range(count), seed, TEXT_RANGE, IMAGE_RANGE))
    await asyncio.sleep(1.0)
    await stack.bot.request("mark", "marked")
    stack.lag.samples.clear()
    since = len(stack.gemini.requests)
    watch = PortraitWatch(stack.fake, [])
    machine_before, started = psutil.cpu_times(), asyncio.get_running_loop().time()
    for n, member in enumerate(members):
        watch.add(await _create(stack, member, n))
    creates = watch.creates
    with contextlib.suppress(TimeoutError):  # a create never seen counts as failed
        await stack.fake.wait_until(watch.scan, 120)
    machine_busy = busy_seconds(machine_before, psutil.cpu_times())
    machine_had = (psutil.cpu_count() or 1) * (asyncio.get_running_loop().time() - started)
    report = await stack.bot.request("report", "report")
    deadline = asyncio.get_running_loop().time() + 20
    while len(report["flows"]) < count and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)  # the thread and its welcome come after the portrait
        report = await stack.bot.request("report", "report")
    orphans = attribute(stack.gemini, creates, since)
    timeline = report.get("timeline") or {}
    admission = [timeline[c.ix.id].get("admit", 0.0) for c in creates if c.ix.id in timeline]
    seen = [c for c in creates if c.visible is not None]
    first = min(c.command for c in creates)
    wall = max(c.visible for c in seen if c.visible is not None) - first if seen else math.nan
    slowest = max((c.provider for c in creates), default=math.nan)
    overheads = [c.overhead for c in seen]
    return {
        "creates": [c.record() for c in creates],
        "wall": wall,
        "slowest_provider": slowest,
        "wall_ratio": wall / slowest,
        "overhead_median": _median(overheads),
        "overhead_p90": percentile(overheads, 90),
        "overhead_max": max(overheads, default=math.nan),
        "end_to_end": summary([c.end_to_end for c in seen]),
        "phases": {k: _median([c.phases().get(k, math.nan) for c in seen]) for k, _ in PHASES},
        "dispatched": max(c.command for c in creates) - first,
        "failed": count - len(seen),
        "orphan_calls": orphans,
        "routes": sorted({c.route for c in seen}),
        "stages": {k: summary([f[k] for f in report["flows"] if k in f]) for k, _ in STAGES},
        "admission_wait": summary(admission),
        "bot_lag": report["lag"],
        "bot_cpu_seconds": report["cpu_since_mark"],
        "machine_busy": machine_busy,
        "machine_had": machine_had,
        "fake_lag": summary(stack.lag.samples),
        "missing_hooks": report.get("missing_hooks", []),
    }


async def measure(side: Side, args: argparse.Namespace, png: bytes) -> dict[str, Any]:
    """One side: target 2's single creates, then target 5's concurrent ones, one bot."""
    settings = {"generation_concurrency": args.concurrency, "quota_free": 1000}
    async with running_stack(
        prefix="charbot_bench_lat",
        text_latency=SINGLE_LATENCY,
        image_latency=SINGLE_LATENCY,
        settings=settings,
        pool_size=args.pool_size,
        image_png=png,
        validate=False,  # the fakes' own CPU stays off the two cores the bot has
        code_root=side.code_root,
        bot_module=side.bot_module,
    ) as stack:
        hook = Latencies()
        stack.gemini.latency_for = hook
        await asyncio.sleep(1.0)
        one = await single(stack, args.runs)
        spy = (  # the concurrent creates, from their start
            profile(stack.bot.pid, f"{args.profile}.{side.name}", args.profile_seconds)
            if args.profile
            else None
        )
        many = await concurrent(stack, args.count, args.seed, hook)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        violations = len(stack.fake.violations)
        stored = (await stack.bot.request("report", "report")).get("stored")
    return {
        "side": side.name,
        "commit": side.commit,
        "single": one,
        "concurrent": many,
        "violations": violations,
        "stored": stored,
    }


def print_side(m: dict[str, Any], args: argparse.Namespace) -> None:
    one, many = m["single"], m["concurrent"]
    print(f"\n--- {m['side']} ({m['commit']}) ---")
    print(
        table(
            ["single create", "command → visible ms", "provider ms", "ratio", "posted by"],
            [
                [
                    f"run {i + 1}",
                    ms(c["end_to_end"]),
                    ms(c["provider"]),
                    f"{r:.3f}",
                    c["route"] or "(not seen)",
                ]
                for i, (c, r) in enumerate(zip(one["creates"], one["ratios"], strict=True))
            ],
        )
    )
    e2e = many["end_to_end"]
    print(
        f"\n{args.count} concurrent: wall {many['wall']:.2f} s, slowest provider "
        f"{many['slowest_provider']:.2f} s, command → visible p50 {ms(e2e['p50'])} ms / "
        f"max {ms(e2e['max'])} ms; overhead p50 {many['overhead_median'] * 100:.1f} %, p90 "
        f"{many['overhead_p90'] * 100:.1f} %, max {many['overhead_max'] * 100:.1f} %; "
        f"dispatching took {many['dispatched'] * 1000:.0f} ms; failed {many['failed']}"
    )
    print(
        table(
            ["outside the provider (median ms)", "single", f"{args.count} concurrent"],
            [[label, ms(one["phases"][k]), ms(many["phases"][k])] for k, label in PHASES],
        )
    )
    print(
        f"bot loop lag p99 {ms(many['bot_lag']['p99'])} ms, max {ms(many['bot_lag']['max'])} "
        f"ms; fakes' loop lag p99 {ms(many['fake_lag']['p99'])} ms; bot CPU over the "
        f"{args.count}: {many['bot_cpu_seconds']:.2f} s; whole machine (bot, fakes, moto, "
        f"PostgreSQL) busy {many['machine_busy']:.1f} s of the {many['machine_had']:.1f} s its "
        f"cores had until the last portrait; portrait posted by "
        f"{', '.join(many['routes']) or '-'}; Gemini calls of no create "
        f"{one['orphan_calls'] + many['orphan_calls']}; fake-Discord violations "
        f"{m['violations']}"
    )


def floor_lines(floor: dict[str, Any], count: int) -> str:
    """The floor side's figures against the targets' limits: a limit the floor itself misses
    is out of reach for any change to the bot on this machine."""

    def verdict(value: float, limit: float) -> str:
        return "misses it: out of reach here" if value > limit else "meets it"

    one, many = floor["single"], floor["concurrent"]
    return "\n".join(
        [
            "floor (bench.barecreate: the same create on the same libraries, no product around "
            f"it; failed {one['failed'] + many['failed']}; characters stored completed with "
            f"both URLs {floor.get('stored', '?')}):",
            f"  single: median / provider {one['ratio_median']:.3f} (limit {SINGLE_LIMIT}: "
            f"{verdict(one['ratio_median'], SINGLE_LIMIT)})",
            f"  {count} concurrent: wall / slowest {many['wall_ratio']:.3f} (limit {WALL_LIMIT}: "
            f"{verdict(many['wall_ratio'], WALL_LIMIT)}); median overhead "
            f"{many['overhead_median'] * 100:.1f} % (limit {OVERHEAD_LIMIT * 100:.0f} %: "
            f"{verdict(many['overhead_median'], OVERHEAD_LIMIT)}), p90 "
            f"{many['overhead_p90'] * 100:.1f} %; command → text call p50 "
            f"{ms(many['phases']['to_text_call'])} ms",
        ]
    )


def _target(
    label: str,
    phase: str,
    key: str,
    this: dict[str, Any],
    base: dict[str, Any] | None,
    limit: float,
) -> Target:
    """``this`` side's figure against ``limit``, the base's beside it in the name."""
    shown = f"{label} (base {base[phase][key]:.3f})" if base is not None else label
    return Target(shown, float(this[phase][key]), limit)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="target 2's single creates")
    parser.add_argument("--count", type=int, default=100, help="target 5's concurrent creates")
    parser.add_argument("--seed", type=int, default=19, help="target 5's latencies")
    parser.add_argument("--concurrency", type=int, default=128, help="GENERATION_CONCURRENCY")
    parser.add_argument("--pool-size", type=int, default=None, help="override the DB pool")
    parser.add_argument("--side", type=int, default=1024, help="side of the fake's PNG, px")
    parser.add_argument(
        "--profile", help="py-spy each side's bot over the concurrent creates into <this>.<side>"
    )
    parser.add_argument(
        "--profile-seconds",
        type=int,
        default=30,
        help="how long --profile samples from the burst's start (2: its acceptances)",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the floor side (bench.barecreate: the least a create does on these libraries)",
    )
    add_arguments(parser)
    args = parser.parse_args()
    png = portrait_png(args.side)
    print(f"fake Gemini image: {args.side}x{args.side} PNG, {len(png) / 1e6:.3f} MB")
    measured = []
    for side in sides(args):
        measured.append(await measure(side, args, png))
        print_side(measured[-1], args)
    this = measured[0]
    base = measured[1] if len(measured) > 1 else None
    floor = None
    if not args.no_floor:
        floor = await measure(floor_side(), args, png)
        print_side(floor, args)

    def pair(phase: str, key: str, scale: float = 1.0, sub: str = "") -> tuple[float, float]:
        """(this, base) of ``side[phase][key]`` (a summary's p50 with ``sub``)."""

        def one(m: dict[str, Any] | None) -> float:
            if m is None:
                return math.nan
            value = m[phase][key]
            if isinstance(value, dict):
                value = value.get(sub, {}).get("p50", math.nan) if sub else value["p50"]
            return float(value) * scale

        return one(this), one(base)

    n = args.count
    rows = [
        ("single: median / provider (<= 1.08)", *pair("single", "ratio_median")),
        ("single: worst / provider", *pair("single", "ratio_worst")),
        ("single: median command → visible, ms", *pair("single", "end_to_end_median", 1e3)),
        ("single: median provider, ms", *pair("single", "provider_median", 1e3)),
        (f"{n}: wall, s", *pair("concurrent", "wall")),
        (f"{n}: slowest provider, s", *pair("concurrent", "slowest_provider")),
        (f"{n}: wall / slowest (<= 1.15)", *pair("concurrent", "wall_ratio")),
        (f"{n}: median overhead, % (<= 5)", *pair("concurrent", "overhead_median", 100)),
        (f"{n}: overhead p90, %", *pair("concurrent", "overhead_p90", 100)),
        (f"{n}: failed", *pair("concurrent", "failed")),
    ]
    print()
    for phase, title in (("single", "one create"), ("concurrent", f"{n} concurrent")):
        stage = [
            (f"{label.split(' (')[0]} p50", *pair(phase, "stages", 1e3, key))
            for key, label in STAGES
        ]
        print(compare(f"inside the bot, {title}, ms", stage, fmt="{:.1f}"))
        print()
    wait = pair("concurrent", "admission_wait", 1e3)
    print(f"admission wait of the {n} creates, p50 (this / base): {wait[0]:.1f} / {wait[1]:.1f} ms")
    print()
    print(compare(f"command → portrait visible, {args.side}² PNG", rows, fmt="{:.3f}"))
    if floor is not None:
        print(floor_lines(floor, args.count))
    targets = [
        _target(
            "single create: median (command → visible) / provider",
            "single",
            "ratio_median",
            this,
            base,
            SINGLE_LIMIT,
        ),
        _target(
            f"{n} concurrent: wall / slowest provider",
            "concurrent",
            "wall_ratio",
            this,
            base,
            WALL_LIMIT,
        ),
        _target(
            f"{n} concurrent: median overhead / provider",
            "concurrent",
            "overhead_median",
            this,
            base,
            OVERHEAD_LIMIT,
        ),
        Target(
            "failed creates (this)",
            float(this["single"]["failed"] + this["concurrent"]["failed"]),
            0.0,
        ),
    ]
    data = {
        "runs": args.runs,
        "count": args.count,
        "seed": args.seed,
        "concurrency": args.concurrency,
        "image_bytes": len(png),
        "single_latency": SINGLE_LATENCY,
        "text_range": TEXT_RANGE,
        "image_range": IMAGE_RANGE,
        "sides": measured if floor is None else [*measured, floor],
    }
    one, many = this["single"], this["concurrent"]
    headline = (
        f"single {one['ratio_median']:.3f} × provider (worst {one['ratio_worst']:.3f}); "
        f"{args.count} concurrent: wall {many['wall_ratio']:.3f} × slowest, median overhead "
        f"{many['overhead_median'] * 100:.1f} %"
    )
    if base is not None:
        headline += (
            f" (base {base['single']['ratio_median']:.3f}; "
            f"{base['concurrent']['wall_ratio']:.3f}, "
            f"{base['concurrent']['overhead_median'] * 100:.1f} %)"
        )
    return finish("latency", targets, data, headline)


if __name__ == "__main__":
    from bench.common import run

    run(main)
