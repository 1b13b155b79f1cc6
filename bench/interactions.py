"""Acknowledgement latency under load: 2,000 interactions over 10 s from 200 members.

The mix: /quota, /character list, autocomplete of /character show, /gallery browse (when the
command is registered; otherwise its share goes to /quota and /character list), Favorite
clicks on characters made before the run, and /character create with the fake Gemini at a
fixed latency (text 0.2 s, image 1.0 s). Interactions are dispatched on a fixed schedule (one
every 5 ms), not one after another, so a slow answer does not slow the load down.

Measured at the fake Discord: the delay from sending INTERACTION_CREATE to receiving the first
callback (``FakeInteraction.ack_delay``). Inside the bot process (``bench.botproc``): the
event-loop lag (a 10 ms sleeper's lateness) and the RSS after the run. Targets: p99 ack
≤ 90 ms (3 % of Discord's 3 s), none late (> 3 s or never); loop lag p99 ≤ 50 ms.

    .venv/bin/python -m bench.interactions [--total 2000] [--seconds 10] [--members 200]

Side by side (``bench.sides``): each mix (``--mixes``: the default mix, then 70 % /quota with
the rest in the default proportions) runs against this tree's bot and the base commit's
(``--base``, default the commit before issue #19; ``--no-base`` for this tree only), one after
the other on fresh databases. Issue #19's target 1: answer p99 (the first content the member
sees) <= 0.25 x the base's, answer p90 <= 50 ms, bot CPU per interaction <= 0.7 x the base's,
none late. "Where the answer waits" splits each answer into gateway delivery, admission wait,
database time and requests to Discord, measured inside the bot (``bench.timeline``).

The floor side (``--no-floor`` skips it) runs the same load against ``bench.barecreate`` with
``bench.baremix``: each kind answered with one statement and one answer on the bot's own
libraries, the create as the create benchmarks' floor. Where the floor itself misses a
target's limit, no change to the bot can meet it on this machine; the report says which.

    .venv/bin/python -m bench.interactions [--mixes ';quota=0.7'] [--base COMMIT | --no-base]
        [--no-floor] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import signal
import time
from collections import Counter, defaultdict
from typing import Any

import psutil

from bench.common import Target, finish, ms, percentile, summary, table
from bench.sides import Side, add_arguments, compare, floor_side, ratio, ratio_target, sides
from bench.stack import Stack, final_embed, profile, running_stack, warm_up
from bench.timeline import BREAKDOWN_HEADERS, breakdown
from tests.fakes.discord import FakeInteraction, FakeMember

TEXT_LATENCY = 0.2
IMAGE_LATENCY = 1.0
LATE = 3.0
MIX = {  # share of the load per kind
    "quota": 0.18,
    "character list": 0.18,
    "autocomplete": 0.25,
    "gallery browse": 0.12,
    "favorite click": 0.22,
    "character create": 0.05,
}
PREFIXES = ("", "a", "ar", "kn", "pi", "the", "zz")


def mixed(spec: str) -> dict[str, float]:
    """The default mix with some kinds' shares set (``kind=share,...``); the other kinds share
    what is left in their default proportions."""
    fixed: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, share = part.partition("=")
        if kind.strip() not in MIX:
            raise SystemExit(f"--mix: unknown kind {kind.strip()!r}; one of {', '.join(MIX)}")
        fixed[kind.strip()] = float(share)
    rest = 1.0 - sum(fixed.values())
    others = {k: v for k, v in MIX.items() if k not in fixed}
    scale = rest / sum(others.values()) if others else 0.0
    return {k: fixed.get(k, MIX[k] * scale) for k in MIX if fixed.get(k, 1.0) > 0}


def _fav_id(message: dict[str, Any]) -> str:
    def walk(components: list[dict[str, Any]]) -> str | None:
        for component in components:
            cid = component.get("custom_id", "")
            if cid.endswith(":fav"):
                return str(cid)
            found = walk(component.get("components") or [])
            if found:
                return found
        return None

    found = walk(message.get("components") or [])
    if found is None:
        raise RuntimeError("no Favorite button on the character message")
    return found


async def prepare(stack: Stack, members: list[FakeMember], owners: int) -> list[tuple[Any, ...]]:
    """Every member's user row exists; ``owners`` members each made a character (its message
    carries the buttons the load clicks)."""
    await warm_up(stack, members)
    made = []
    for i, member in enumerate(members[:owners]):
        ix = await stack.command(
            member, "character create", {"description": f"a knight of the round table {i}"}
        )
        made.append((member, ix))
    await asyncio.gather(*(ix.wait_for(final_embed, 90) for _, ix in made))
    return [(member, ix.original(), _fav_id(ix.original())) for member, ix in made]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--owners", type=int, default=20, help="members with a character")
    parser.add_argument("--pool-size", type=int, default=None, help="override the DB pool")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--no-validate",
        action="store_true",
        help="the fake skips OpenAPI validation of requests (less harness CPU)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="bot processes, one shard each (SHARD_COUNT/SHARD_IDS), members spread over them",
    )
    parser.add_argument(
        "--only", choices=list(MIX), help="send only this kind (to measure its cost alone)"
    )
    parser.add_argument(
        "--mix",
        default="",
        help="shares of some kinds, e.g. 'quota=0.7' or 'character create=0': the rest is "
        "spread over the other kinds as the default mix spreads it",
    )
    parser.add_argument(
        "--mixes",
        default=";quota=0.7",
        help="the mixes to run, separated by ';' (each as --mix takes it; empty: the default)",
    )
    parser.add_argument("--profile", help="py-spy each side's bot into <this>.<side> (raw)")
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the floor side (bench.barecreate with bench.baremix: one statement and one "
        "answer per interaction on these libraries)",
    )
    add_arguments(parser)
    args = parser.parse_args()
    specs = (
        [args.mix] if args.mix or args.only else args.mixes.replace(",quota", ";quota").split(";")
    )
    results: list[dict[str, Any]] = []
    every_side = sides(args) + ([] if args.no_floor else [floor_side()])
    for spec in specs:
        for side in every_side:
            results.append(await measure(args, spec, side))
    return report(results, specs)


def report(results: list[dict[str, Any]], specs: list[str]) -> int:
    """Both sides of each mix, and the targets of issue #19 (1.)."""
    targets: list[Target] = []
    for spec in specs:
        this = next(r for r in results if r["mix_spec"] == spec and r["side"] == "this")
        base = next((r for r in results if r["mix_spec"] == spec and r["side"] == "base"), None)
        floor = next((r for r in results if r["mix_spec"] == spec and r["side"] == "floor"), None)
        name = spec or "default mix"
        b = base or {}
        nan = float("nan")
        print()
        print(
            compare(
                name,
                [
                    ("answer p90 ms", this["answer_p90"] * 1000, b.get("answer_p90", nan) * 1000),
                    ("answer p99 ms", this["answer_p99"] * 1000, b.get("answer_p99", nan) * 1000),
                    ("ack p99 ms", this["ack_p99"] * 1000, b.get("ack_p99", nan) * 1000),
                    (
                        "bot CPU per interaction ms",
                        this["cpu_per_interaction"] * 1000,
                        b.get("cpu_per_interaction", nan) * 1000,
                    ),
                    ("bot loop lag p99 ms", this["lag_p99"] * 1000, b.get("lag_p99", nan) * 1000),
                    ("late", float(this["late"]), float(b.get("late", nan))),
                ],
            )
        )
        if base is not None:
            targets.append(
                ratio_target(
                    f"{name}: answer p99 this/base", this["answer_p99"], base["answer_p99"], 0.25
                )
            )
            targets.append(
                ratio_target(
                    f"{name}: bot CPU per interaction this/base",
                    this["cpu_per_interaction"],
                    base["cpu_per_interaction"],
                    0.7,
                )
            )
        targets += [
            Target(f"{name}: answer p90 (this)", this["answer_p90"] * 1000, 50.0, " ms"),
            Target(f"{name}: p99 acknowledgement (this)", this["ack_p99"] * 1000, 90.0, " ms"),
            Target(f"{name}: late acknowledgements (this)", float(this["late"]), 0.0),
            Target(f"{name}: bot event-loop lag p99 (this)", this["lag_p99"] * 1000, 50.0, " ms"),
            Target(f"{name}: interactions not sent (this)", float(this["not_sent"]), 0.0),
        ]
        if floor is not None:
            print(floor_lines(name, floor, base))
    headline = "; ".join(
        f"{r['side']} {r['mix_spec'] or 'default'}: answer p90 {ms(r['answer_p90'])} / p99 "
        f"{ms(r['answer_p99'])} ms, CPU {r['cpu_per_interaction'] * 1000:.2f} ms/interaction"
        for r in results
    )
    return finish("interactions", targets, {"runs": results}, headline)


def floor_lines(name: str, floor: dict[str, Any], base: dict[str, Any] | None) -> str:
    """The floor side beside the base: a limit the floor itself misses is out of reach for any
    change to the bot on this machine."""
    nan = float("nan")
    b = base or {}
    rows = [  # (figure, the floor's, the base's or None for an absolute limit, limit, said)
        ("answer p90 ms", floor["answer_p90"], None, 0.050, "at most 50 ms"),
        ("answer p99 ms", floor["answer_p99"], b.get("answer_p99", nan), 0.25, "0.25 x the base's"),
        (
            "bot CPU per interaction ms",
            floor["cpu_per_interaction"],
            b.get("cpu_per_interaction", nan),
            0.7,
            "0.7 x the base's",
        ),
    ]
    finished = floor["creates"] - floor["create_failures"]
    lines = [
        f"{name}, floor (bench.barecreate + bench.baremix: one statement and one answer per "
        f"interaction, the same create; creates finished {finished}/{floor['creates']}, late "
        f"{floor['late']}):"
    ]
    for label, value, base_value, limit, said in rows:
        share = value if base_value is None else ratio(value, base_value)
        shown = f"{value * 1000:.2f}"
        if base_value is not None:
            shown += f" = {share:.2f} x the base's"
        if math.isnan(share):
            verdict = "no base measured"
        elif share > limit:
            verdict = "out of reach for any change to the bot here"
        else:
            verdict = "within reach"
        lines.append(f"  {label}: {shown} (target {said}: {verdict})")
    return "\n".join(lines)


async def measure(args: argparse.Namespace, mix_spec: str, side: Side) -> dict[str, Any]:
    """One run of the load against one side's bot; prints its tables and returns its figures."""
    print(f"\n=== {side.name} ({side.commit}), mix {mix_spec or 'default'} ===")
    settings = {"generation_concurrency": args.concurrency, "quota_free": 1000}
    async with running_stack(
        code_root=side.code_root,
        prefix="charbot_bench_ix",
        text_latency=TEXT_LATENCY,
        image_latency=IMAGE_LATENCY,
        settings=settings,
        pool_size=args.pool_size,
        processes=args.processes,
        validate=not args.no_validate,
        bot_module=side.bot_module,
    ) as stack:
        members = [stack.member(f"member{i:03d}") for i in range(args.members)]
        clickable = await prepare(stack, members, args.owners)
        mix = {args.only: 1.0} if args.only else mixed(mix_spec)
        gallery = stack.registered("gallery")
        if not gallery and "gallery browse" in mix:
            share = mix.pop("gallery browse")
            mix["quota"] += share / 2
            mix["character list"] += share / 2
        rng = random.Random(42)
        kinds = rng.choices(list(mix), weights=list(mix.values()), k=args.total)
        await asyncio.sleep(1.0)
        await stack.request_all("mark", "marked")
        spy = (  # the load's window only
            profile(stack.bot.pid, f"{args.profile}.{side.name}", 60) if args.profile else None
        )
        harness = psutil.Process()
        harness_before = sum(harness.cpu_times()[:2])
        stack.lag.samples.clear()

        sent: list[tuple[str, FakeInteraction]] = []
        errors: Counter[str] = Counter()
        creates: list[FakeInteraction] = []
        pending: set[asyncio.Task[None]] = set()

        async def one(kind: str, member: FakeMember) -> None:
            fake = stack.fake
            try:
                if kind == "quota":
                    ix = await stack.command(member, "quota")
                elif kind == "character list":
                    ix = await stack.command(member, "character list")
                elif kind == "gallery browse":
                    ix = await stack.command(member, "gallery browse")
                elif kind == "favorite click":
                    owner, message, custom_id = rng.choice(clickable)
                    ix = await fake.click(owner, message, custom_id)
                elif kind == "character create":
                    ix = await stack.command(
                        member, "character create", {"description": "a lighthouse keeper"}
                    )
                    creates.append(ix)
                else:
                    before = set(fake.interactions)
                    owner = rng.choice(clickable)[0] if rng.random() < 0.5 else member
                    task = asyncio.ensure_future(
                        fake.autocomplete(
                            owner,
                            stack.channel_of(owner)["id"],
                            "character show",
                            {"character": rng.choice(PREFIXES)},
                            focused="character",
                            timeout=10,
                        )
                    )
                    await asyncio.sleep(0)
                    new = [fake.interactions[i] for i in set(fake.interactions) - before]
                    ix = new[0]
                    with contextlib.suppress(Exception):
                        await task
                sent.append((kind, ix))
            except Exception as exc:  # noqa: BLE001 - the load goes on; counted and shown
                errors[f"{kind}: {type(exc).__name__}: {exc}"[:160]] += 1

        interval = args.seconds / args.total
        start = time.monotonic()
        behind = []
        for i, kind in enumerate(kinds):
            due = start + i * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            behind.append(max(0.0, time.monotonic() - due))
            task = asyncio.create_task(one(kind, members[i % len(members)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
        load_seconds = time.monotonic() - start
        await asyncio.gather(*pending)
        deadline = time.monotonic() + LATE + 1
        while time.monotonic() < deadline and not all(ix.is_acknowledged for _, ix in sent):
            await asyncio.sleep(0.05)
        results = await asyncio.gather(
            *(ix.wait_for(final_embed, 60) for ix in creates), return_exceptions=True
        )
        create_failures = sum(isinstance(r, BaseException) for r in results)
        reports = await stack.request_all("report", "report")
        deadline = time.monotonic() + 30
        while (  # a create's save goes on after its portrait is shown: its CPU counts too
            sum(len(r.get("flows", [])) for r in reports) < len(creates)
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.2)
            reports = await stack.request_all("report", "report")
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        harness_cpu = sum(harness.cpu_times()[:2]) - harness_before
        fake_lag = summary(stack.lag.samples)
        violations = len(stack.fake.violations)

    by_kind: dict[str, list[float]] = defaultdict(list)
    answers: dict[str, list[float]] = defaultdict(list)
    never = Counter()
    for kind, ix in sent:
        if ix.answer_delay is not None:
            answers[kind].append(ix.answer_delay)
        if ix.ack_delay is None:
            never[kind] += 1
        else:
            by_kind[kind].append(ix.ack_delay)
    every = [d for values in by_kind.values() for d in values]
    late = sum(1 for d in every if d > LATE) + sum(never.values())
    rows = []
    for kind in [*mix, "all"]:
        values = every if kind == "all" else by_kind.get(kind, [])
        missing = sum(never.values()) if kind == "all" else never[kind]
        s = summary(values)
        done = summary(
            [d for v in answers.values() for d in v] if kind == "all" else answers.get(kind, [])
        )
        rows.append(
            [
                kind,
                s["count"],
                ms(s["p50"]),
                ms(s["p95"]),
                ms(s["p99"]),
                ms(s["max"]),
                sum(1 for d in values if d > LATE) + missing,
                ms(done["p50"]),
                ms(done["p99"]),
            ]
        )
    print()
    print("ack = first callback; answer = first reply with content (for information)")
    print(
        table(
            [
                "interaction",
                "n",
                "ack p50 ms",
                "ack p95 ms",
                "ack p99 ms",
                "ack max ms",
                "late",
                "answer p50 ms",
                "answer p99 ms",
            ],
            rows,
        )
    )
    print()
    print("where the answer waits (means; the bot's clock and the fake's are the same)")
    print(table(BREAKDOWN_HEADERS, breakdown(sent, reports)))
    for report in reports:
        if "counts" in report:
            print("bot process, during the load:", report["counts"])
    lags = [r["lag"] for r in reports]
    worst_lag = max(lags, key=lambda lag: lag["p99"])
    print()
    names = (
        ["bot process"] if len(reports) == 1 else [f"bot process {i}" for i in range(len(reports))]
    )
    print(
        table(
            ["event-loop lag", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [
                [name, lag["count"], ms(lag["p50"]), ms(lag["p95"]), ms(lag["p99"]), ms(lag["max"])]
                for name, lag in zip(names, lags, strict=True)
            ]
            + [
                [
                    "fakes + load process",
                    fake_lag["count"],
                    ms(fake_lag["p50"]),
                    ms(fake_lag["p95"]),
                    ms(fake_lag["p99"]),
                    ms(fake_lag["max"]),
                ]
            ],
        )
    )
    rss_each = [r["rss_bytes"] / 2**20 for r in reports]
    rss = max(rss_each)
    cpu = sum(r["cpu_user"] + r["cpu_system"] for r in reports)
    window_cpu = sum(r["cpu_since_mark"] for r in reports)
    print()
    print(
        f"sent {len(sent)} of {args.total} in {load_seconds:.2f} s (schedule slip p99 "
        f"{ms(percentile(behind, 99))} ms); /gallery browse "
        f"{'included' if gallery else 'NOT registered yet: skipped'}; creates finished "
        f"{len(creates) - create_failures}/{len(creates)}; bot RSS after the run "
        f"{' + '.join(f'{r:.0f}' for r in rss_each)} MiB; bot CPU {cpu:.1f} s since start, "
        f"{window_cpu:.1f} s in the {reports[0]['seconds_since_mark']:.1f} s since the load "
        f"began; fakes + load process CPU {harness_cpu:.1f} s; fake-Discord violations "
        f"{violations}"
    )
    for name, report in zip(names, reports, strict=True):
        pauses = report["gc"]
        print(
            f"{name}, garbage collector during the load: "
            + ", ".join(
                f"gen{g} {pauses[f'gen{g}']['count']}x, {ms(pauses[f'gen{g}']['total'])} ms "
                f"in all, longest {ms(pauses[f'gen{g}']['max'])} ms"
                for g in (0, 1, 2)
            )
        )
    for message, count in errors.most_common(10):
        print(f"  load error x{count}: {message}")
    p99 = percentile(every, 99)
    data = {
        "total": args.total,
        "seconds": args.seconds,
        "members": args.members,
        "gallery_included": gallery,
        "mix": mix,
        "ack": {k: summary(v) for k, v in by_kind.items()},
        "ack_all": summary(every),
        "answer": {k: summary(v) for k, v in answers.items()},
        "never_acknowledged": dict(never),
        "late": late,
        "processes": len(reports),
        "bot_lag": lags[0] if len(lags) == 1 else lags,
        "fakes_lag": fake_lag,
        "bot_rss_bytes": [r["rss_bytes"] for r in reports],
        "bot_cpu_seconds_in_window": window_cpu,
        "fakes_cpu_seconds_in_window": harness_cpu,
        "bot_gc": [r["gc"] for r in reports],
        "creates": len(creates),
        "create_failures": create_failures,
        "load_errors": dict(errors),
        "violations": violations,
    }
    headline = (
        f"{len(sent)} interactions in {load_seconds:.1f} s: ack p50 {ms(percentile(every, 50))} "
        f"ms, p99 {ms(p99)} ms, max {ms(max(every, default=float('nan')))} ms, late {late}; "
        f"bot loop lag p99 {ms(worst_lag['p99'])} ms; bot RSS {rss:.0f} MiB"
        + (f" (largest of {len(reports)} processes)" if len(reports) > 1 else "")
    )
    answers_all = [d for v in answers.values() for d in v]
    return {
        **data,
        "side": side.name,
        "commit": side.commit,
        "mix_spec": mix_spec,
        "headline": headline,
        "answer_p90": percentile(answers_all, 90),
        "answer_p99": percentile(answers_all, 99),
        "ack_p99": p99,
        "lag_p99": worst_lag["p99"],
        "cpu_per_interaction": window_cpu / max(1, len(sent)),
        "not_sent": args.total - len(sent),
    }


if __name__ == "__main__":
    from bench.common import run

    run(main)
