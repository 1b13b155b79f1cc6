"""Generation throughput with one and with two `charbot worker` processes (issue #20): a bot
process that takes the commands only (GENERATION_CONCURRENCY=0) and N workers, each making
``--per-worker`` generations at once, against a fake Gemini that answers text in 0.2 s and
images in 1.0 s (a 1024² PNG). ``--count`` creates from as many members, sent ten at a time
as fast as they are acknowledged; throughput is creates per second from the first command to
the last posted portrait. Also printed: how many jobs each worker took.

Target: every create posted once, and two workers spread the work (each took a share). The
throughput ratio is printed, not a target: on two cores it is bounded by the CPU the workers,
the fakes, moto and PostgreSQL share (the bot's own CPU per create is ``bench.generation``'s).

    .venv/bin/python -m bench.workers [--count 120] [--workers 2] [--per-worker 8]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Target, finish, table
from bench.generation import IMAGE_LATENCY, TEXT_LATENCY, portrait_png
from bench.stack import running_stack, warm_up


def posted(ix: Any) -> bool:
    """The member's response now carries the portrait (the bot posts it, or a worker does)."""
    original = ix.original() or {}
    return bool(original.get("attachments") or original.get("embeds"))


async def per_worker(database_url: str) -> dict[str, int]:
    """Jobs each worker took (generation_jobs.worker)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT worker, count(*) FROM generation_jobs GROUP BY worker ORDER BY 1")
            )
            return {str(worker): int(n) for worker, n in rows.all()}
    finally:
        await engine.dispose()


async def run(workers: int, args: argparse.Namespace, png: bytes) -> dict[str, Any]:
    """One configuration: ``workers`` worker processes; its wall time, throughput and split."""
    async with running_stack(
        prefix=f"workers{workers}",
        text_latency=TEXT_LATENCY,
        image_latency=IMAGE_LATENCY,
        settings={"generation_concurrency": 0, "quota_free": 1000},
        image_png=png,
        validate=False,
        workers=workers,
        worker_settings={"generation_concurrency": args.per_worker},
    ) as stack:
        members = [stack.member(f"w{workers}m{i}") for i in range(args.count)]
        await warm_up(stack, members)
        start = time.perf_counter()
        sent = []
        for i in range(0, len(members), 10):
            wave = [
                await stack.command(m, "character create", {"description": f"knight {j}"})
                for j, m in enumerate(members[i : i + 10])
            ]
            await asyncio.gather(*(ix.acknowledged(30) for ix in wave))
            sent.extend(wave)
        await stack.fake.wait_until(lambda: all(posted(ix) for ix in sent), 600)
        wall = time.perf_counter() - start
        split = await per_worker(stack.database_url)
    return {
        "workers": workers,
        "wall_s": wall,
        "throughput_per_s": len(sent) / wall,
        "posted": sum(1 for ix in sent if posted(ix)),
        "per_worker": split,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-worker", type=int, default=8)
    args = parser.parse_args()
    return await compare_workers(args.count, args.workers, per_worker=args.per_worker)


async def compare_workers(count: int, workers: int, *, per_worker: int) -> int:
    """Throughput with one worker, then with ``workers``; printed, targets checked."""
    args = argparse.Namespace(count=count, workers=workers, per_worker=per_worker)
    png = portrait_png(1024)
    one = await run(1, args, png)
    many = await run(args.workers, args, png)
    rows = [
        (
            f"{r['workers']} worker(s)",
            f"{r['wall_s']:.1f} s",
            f"{r['throughput_per_s']:.2f}/s",
            r["posted"],
            ", ".join(f"{n}" for n in r["per_worker"].values()),
        )
        for r in (one, many)
    ]
    print(table(["configuration", "wall", "creates/s", "posted", "jobs per worker"], rows))
    ratio = many["throughput_per_s"] / one["throughput_per_s"]
    print(f"throughput with {args.workers} workers: {ratio:.2f} × one worker's")
    targets = [
        Target("creates not posted, one worker", args.count - one["posted"], 0),
        Target(f"creates not posted, {args.workers} workers", args.count - many["posted"], 0),
        Target(
            f"workers that took no job, of {args.workers}",
            args.workers - sum(1 for n in many["per_worker"].values() if n > 0),
            0,
        ),
    ]
    headline = (
        f"{args.count} creates: {one['throughput_per_s']:.2f}/s with 1 worker, "
        f"{many['throughput_per_s']:.2f}/s with {args.workers} ({ratio:.2f}×)"
    )
    return finish("workers", targets, {"one": one, "many": many, "ratio": ratio}, headline)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
