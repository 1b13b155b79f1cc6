"""Where an interaction's answer waits, seen from inside the bot process (``bench.botproc``).

Each INTERACTION_CREATE the bot parses starts a record (a context variable, so the tasks
discord.py creates for it inherit it); wrappers around library and bot functions add what
the interaction waited on:

- ``recv``: when the bot parsed the gateway frame (the fake stamps when it sent it, on the
  same monotonic clock, so the gateway delivery is ``recv - created``);
- ``admit``: time spent waiting for an admission slot (``Admission.enter``), when the bot has
  one;
- ``db``: time inside ``AsyncSession.execute/get/scalar`` (pool checkout, the round trip,
  and the loop's delay in resuming the task);
- ``http``: each request to Discord (callback, followup, edit): start and end;
- ``first_http``: when the first request to Discord of the interaction left.

The wrappers use only names every version of the bot has (discord.py's, SQLAlchemy's, and
``Admission`` when present), so the same timeline reads a base commit's bot too.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

_record: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "bench_interaction", default=None
)


def _kind(data: dict[str, Any]) -> str:
    inner = data.get("data") or {}
    kind = int(data.get("type", 0))
    if kind == 4:
        return "autocomplete"
    if kind == 2:
        name = str(inner.get("name", "?"))
        for option in inner.get("options") or []:
            if option.get("type") in (1, 2):
                name += " " + str(option.get("name"))
        return name
    if kind == 3:
        custom_id = str(inner.get("custom_id", ""))
        return "button " + custom_id.rsplit(":", 1)[-1]
    return f"type {kind}"


def _add(key: str, seconds: float) -> None:
    record = _record.get()
    if record is not None:
        record[key] = record.get(key, 0.0) + seconds


def _timed(key: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return await fn(*args, **kwargs)
        finally:
            _add(key, time.monotonic() - start)

    return wrapper


class Timeline:
    """Per-interaction records of the measured window, keyed by interaction id."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, int] = {}

    def clear(self) -> None:
        self.records.clear()
        self.counts.clear()

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def install(self, bot: Any) -> None:
        from discord.webhook.async_ import AsyncWebhookAdapter
        from sqlalchemy.ext.asyncio import AsyncSession

        records = self.records
        parsers = bot._connection.parsers  # built from bound methods when the client is made
        parse = parsers["INTERACTION_CREATE"]

        def parse_interaction_create(data: Any) -> None:
            record: dict[str, Any] = {"recv": time.monotonic(), "kind": _kind(data), "http": []}
            records[str(data["id"])] = record
            token = _record.set(record)
            try:
                parse(data)
            finally:
                _record.reset(token)

        parsers["INTERACTION_CREATE"] = parse_interaction_create

        request = AsyncWebhookAdapter.request

        async def webhook_request(adapter: Any, route: Any, *args: Any, **kwargs: Any) -> Any:
            record = _record.get()
            start = time.monotonic()
            if record is not None:
                record.setdefault("first_http", start)
            try:
                return await request(adapter, route, *args, **kwargs)
            finally:
                if record is not None:
                    record["http"].append((route.method, route.path, start, time.monotonic()))

        AsyncWebhookAdapter.request = webhook_request  # type: ignore[method-assign]

        from sqlalchemy import event

        pool = bot.deps.db.engine.sync_engine.pool
        event.listen(pool, "connect", lambda *_: self.count("database connections opened"))
        event.listen(pool, "close", lambda *_: self.count("database connections closed"))

        def checkout(*_: Any) -> None:
            self.count("database checkouts")
            out = pool.checkedout()
            self.counts["database connections out at most"] = max(
                out, self.counts.get("database connections out at most", 0)
            )

        event.listen(pool, "checkout", checkout)

        import aiohttp

        connect = aiohttp.TCPConnector._create_direct_connection

        async def create_direct_connection(connector: Any, req: Any, *a: Any, **k: Any) -> Any:
            self.count(f"HTTP connections opened to port {req.url.port}")
            return await connect(connector, req, *a, **k)

        aiohttp.TCPConnector._create_direct_connection = create_direct_connection  # type: ignore[method-assign]
        for name in ("execute", "get", "scalar", "scalars"):
            setattr(AsyncSession, name, _timed("db", getattr(AsyncSession, name)))
        try:
            from bot.interactions.admission import Admission
        except ImportError:  # a bot without admission slots
            return
        Admission.enter = _timed("admit", Admission.enter)  # type: ignore[method-assign]

    def report(self) -> dict[str, dict[str, Any]]:
        """The records, JSON-ready."""
        return {
            key: {**value, "http": [list(h) for h in value["http"]]}
            for key, value in self.records.items()
        }


def breakdown(sent: list[tuple[str, Any]], reports: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows of "where the answer waits": per kind, the mean of each part over all of its
    interactions and over its slowest tenth by answer delay (milliseconds)."""
    from bench.common import percentile

    records: dict[str, dict[str, Any]] = {}
    for report in reports:
        records.update(report.get("timeline") or {})
    parts: dict[str, list[dict[str, float]]] = {}
    for kind, ix in sent:
        record = records.get(str(ix.id))
        if record is None or ix.answer_delay is None:
            continue
        created = ix.created_at
        first = record.get("first_http")
        http = sum(end - start for _, _, start, end in record["http"])
        row = {
            "answer": ix.answer_delay,
            "gateway": record["recv"] - created,
            "to first request": (first - record["recv"]) if first is not None else 0.0,
            "admission": record.get("admit", 0.0),
            "database": record.get("db", 0.0),
            "requests": http,
            "requests n": float(len(record["http"])),
        }
        parts.setdefault(kind, []).append(row)
        parts.setdefault("all", []).append(row)
    rows = []
    keys = ["gateway", "to first request", "admission", "database", "requests", "requests n"]
    for kind, values in parts.items():
        answers = [v["answer"] for v in values]
        cut = percentile(answers, 90)
        slow = [v for v in values if v["answer"] >= cut]
        for label, group in (("all", values), ("slowest 10%", slow)):
            mean = {k: sum(v[k] for v in group) / len(group) for k in ["answer", *keys]}
            rows.append(
                [kind, label, len(group)]
                + [f"{mean[k] * 1000:.1f}" for k in ["answer", *keys[:-1]]]
                + [f"{mean['requests n']:.2f}"]
            )
    return rows


BREAKDOWN_HEADERS = [
    "interaction",
    "which",
    "n",
    "answer ms",
    "gateway ms",
    "to 1st request ms",
    "admission wait ms",
    "database ms",
    "requests ms",
    "requests",
]
