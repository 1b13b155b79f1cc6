"""What every benchmark shares: scratch databases, statistics, tables, targets and results."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
EMBEDDED_DIR = ROOT / "bench" / ".embedded-pg"  # where a machine without a server keeps one


def configured_server() -> str | None:
    """BENCH_DATABASE_URL, else TEST_DATABASE_URL (asyncpg SQLAlchemy form), else None."""
    raw = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if raw and raw.startswith(("postgresql://", "postgres://")):
        raw = "postgresql+asyncpg://" + raw.split("://", 1)[1]
    return raw or None


def plain(url: str) -> str:
    """The libpq/asyncpg form of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# What the last scratch database ran on, for the results' machine description.
SERVER: dict[str, str] = {}


async def _answers(url: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(plain(url), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@contextlib.asynccontextmanager
async def database_server() -> AsyncIterator[str]:
    """The PostgreSQL server to create scratch databases on: the configured one, else the
    local server on 5432, else (a machine without one) the embedded server that the tests
    also fall back to, kept under ``bench/.embedded-pg``."""
    configured = configured_server()
    if configured is not None:
        yield configured
        return
    default = "postgresql+asyncpg://" + DEFAULT_SERVER.split("://", 1)[1]
    if await _answers(default):
        yield default
        return
    from db.embedded import embedded_postgres

    print(f"no PostgreSQL at {DEFAULT_SERVER.split('@', 1)[1]}: using the embedded server")
    with embedded_postgres(EMBEDDED_DIR, database="postgres") as url:
        yield url


@contextlib.asynccontextmanager
async def scratch_database(prefix: str, code_root: Path | None = None) -> AsyncIterator[str]:
    """A new database migrated to head (``db.migrate.upgrade``), dropped afterwards.

    ``code_root``: another tree (``bench.sides``) whose own migrations migrate it."""
    import asyncpg

    from db.migrate import upgrade
    from tests.dbutil import create_database, drop_database

    async with database_server() as server:
        conn = await asyncpg.connect(plain(server))
        try:
            SERVER["postgresql"] = str(await conn.fetchval("show server_version"))
        finally:
            await conn.close()
        url = await create_database(server, prefix=prefix)
        try:
            if code_root is None:
                await asyncio.to_thread(upgrade, url)
            else:
                from bench.sides import migrate_in

                await asyncio.to_thread(migrate_in, code_root, url)
            yield url
        finally:
            await drop_database(server, url)


# --- statistics ---------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank, linear between ranks); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """count, mean, p50, p95, p99 and max of ``values``."""
    return {
        "count": len(values),
        "mean": sum(values) / len(values) if values else math.nan,
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a table cell."""
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table (first column left-aligned, the rest right-aligned)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells[1:]]
    return "\n".join(out)


# --- targets and results ------------------------------------------------------------------


@dataclass
class Target:
    """One target of a benchmark: ``value`` must be ``<=`` ``limit`` (same unit)."""

    name: str
    value: float
    limit: float
    unit: str = ""

    @property
    def passed(self) -> bool:
        return not math.isnan(self.value) and self.value <= self.limit

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        limit = f"{self.limit:g}{self.unit}"
        return f"{verdict}  {self.name}: {self.value:.3f}{self.unit} (target <= {limit})"


def machine() -> dict[str, Any]:
    """Where the figures come from: date, CPUs, memory, Python, PostgreSQL."""
    mem_gib = math.nan
    with contextlib.suppress(OSError, ValueError, IndexError):
        for row in Path("/proc/meminfo").read_text().splitlines():
            if row.startswith("MemTotal:"):
                mem_gib = int(row.split()[1]) / 1024 / 1024
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_1_5_15": list(os.getloadavg()),
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "postgresql": SERVER.get("postgresql", "?"),
        "platform": platform.platform(),
    }


def finish(name: str, targets: list[Target], data: dict[str, Any], headline: str) -> int:
    """Print the targets, write ``bench/results/<name>-<time>.json``, print the summary line;
    return the exit code (1 when a target was missed)."""
    print()
    for target in targets:
        print(target.line())
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    payload = {
        "benchmark": name,
        "machine": machine(),
        "targets": [{**asdict(t), "passed": t.passed} for t in targets],
        **data,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    failed = [t.name for t in targets if not t.passed]
    verdict = "PASS" if not failed else f"FAIL ({', '.join(failed)})"
    print(f"results: {path.relative_to(ROOT)}")
    print(f"{name}: {verdict} — {headline}")
    return 1 if failed else 0


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = math.nan
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def run(main: Any) -> None:
    """``sys.exit(asyncio.run(main()))`` for a benchmark's ``__main__``."""
    sys.exit(asyncio.run(main()))
