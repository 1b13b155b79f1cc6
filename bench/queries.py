"""The service queries at scale: 100k users, 1M characters, 2M variants.

Seeds a scratch database (migrated with ``db.migrate.upgrade``) with ``INSERT … SELECT
generate_series`` (plain indexes dropped during the load and rebuilt from their own
definitions, FK triggers off), then times the service functions exactly as the bot calls
them (through SQLAlchemy and asyncpg), round-robin so every query sees the same noise, beside a
``SELECT 1`` round trip on the same path. Prints p50/p95 per query, the ratios, and the node
types of each statement's ``EXPLAIN (ANALYZE)``.

    .venv/bin/python -m bench.queries [--rounds 300] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import (
    Stopwatch,
    Target,
    finish,
    ms,
    percentile,
    plain,
    scratch_database,
    table,
)

USERS = 100_000
CHARACTERS = 1_000_000
THEMES = 500_000
VARIANTS = 2_000_000
HEAVY_USER_CHARACTERS = 10_000  # every 100th character belongs to the heavy user
HEAVY_THEME_VARIANTS = 2_000
PAGE_SIZE = 5  # a gallery page, as /gallery browse shows it
DEEP_PAGE = 5_000
BIG_TABLES = {"users", "characters", "character_themes", "theme_variants"}

TAGS = [
    "knight",
    "wizard",
    "rogue",
    "pirate",
    "samurai",
    "ninja",
    "elf",
    "dwarf",
    "orc",
    "vampire",
    "werewolf",
    "robot",
    "android",
    "alien",
    "detective",
    "scientist",
    "doctor",
    "soldier",
    "pilot",
    "chef",
    "musician",
    "artist",
    "bard",
    "monk",
    "priest",
    "witch",
    "druid",
    "ranger",
    "hunter",
    "princess",
    "prince",
    "queen",
    "king",
    "noble",
    "merchant",
    "thief",
    "assassin",
    "mercenary",
    "explorer",
    "sailor",
    "cowboy",
    "gunslinger",
    "hacker",
    "cyborg",
    "angel",
    "demon",
    "ghost",
    "spirit",
    "dragon",
    "mermaid",
    "fairy",
    "giant",
    "goblin",
    "villain",
    "hero",
    "mentor",
    "student",
    "rebel",
]
NAMES = [
    "Aria",
    "Arthur",
    "Marcus",
    "Mara",
    "Elena",
    "Lucas",
    "Sofia",
    "Kai",
    "Luna",
    "Orion",
    "Ivy",
    "Felix",
    "Nora",
    "Silas",
    "Ada",
    "Theo",
    "Iris",
    "Jasper",
    "Cora",
    "Milo",
    "Vera",
    "Hugo",
    "Lyra",
    "Dante",
    "Freya",
    "Oscar",
    "Nina",
    "Caspian",
    "Zara",
    "Leo",
    "Clara",
    "Rafe",
    "Maya",
    "Ezra",
    "Selene",
    "Tobias",
    "Ruby",
    "Arlo",
    "Wren",
    "Bastian",
    "Ophelia",
    "Cyrus",
    "Hazel",
    "Lorcan",
    "Esme",
    "Darius",
]


def _sql_array(words: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{w}'" for w in words) + "]"


SEED_SQL = [
    # The heavy user (10,000 characters) is u1; every other 2nd user showcases publicly.
    f"""
    INSERT INTO users (id, email, auth0_id, username, display_name, daily_quota,
                       allow_gallery_showcase, profile_visibility, account_status, created_at)
    SELECT md5('u' || g)::uuid::text, 'user' || g || '@bench.example',
           'oauth2|discord|' || (100000000000000000 + g), 'user_' || g, 'User ' || g, 1000000,
           (g % 2 = 1), CASE WHEN g % 2 = 1 THEN 'public' ELSE 'private' END,
           CASE WHEN g % 97 = 0 THEN 'suspended' ELSE 'active' END,
           now() - interval '3 years' + g * interval '5 minutes'
    FROM generate_series(1, {USERS}) AS g
    """,
    # Characters in time order (created_at grows with g, one a minute over ~2 years);
    # 10% public, 0.2% failed, style and tags hashed from g, every 100th owned by u1.
    f"""
    INSERT INTO characters (id, user_id, name, description, prompt, style_type, image_url,
                            thumbnail_url, s3_url, metadata, tags, age, gender, occupation,
                            personality, clothing, background, is_public, is_favorite,
                            is_in_library, generation_status, created_at, updated_at)
    SELECT md5('c' || g)::uuid::text,
           md5('u' || CASE WHEN g % 100 = 0 THEN 1
                           ELSE 2 + abs(hashtext('o' || g)) % {USERS - 1} END)::uuid::text,
           n.names[1 + abs(hashtext('n' || g)) % {len(NAMES)}] || ' ' || (g % 1000),
           'A character made for the benchmark, number ' || g || ', with a story to tell.',
           'portrait of character ' || g || ', detailed, high quality, studio lighting',
           s.styles[1 + abs(hashtext('s' || g)) % 7],
           'https://cdn.bench.example/characters/' || g || '.png',
           'https://cdn.bench.example/characters/' || g || '_thumb.webp',
           'https://cdn.bench.example/characters/' || g || '.png',
           jsonb_build_object('source', 'bench', 'imageKey', 'characters/' || g || '.png'),
           ARRAY[t.tags[1 + abs(hashtext('a' || g)) % {len(TAGS)}],
                 t.tags[1 + abs(hashtext('b' || g)) % {len(TAGS)}],
                 s.styles[1 + abs(hashtext('s' || g)) % 7]],
           '30', 'female', 'adventurer', ARRAY['brave', 'curious'], 'a long coat',
           'Born somewhere far away.',
           (abs(hashtext('p' || g)) % 10 = 0), (abs(hashtext('f' || g)) % 10 = 0),
           (abs(hashtext('l' || g)) % 10 = 0),
           CASE WHEN g % 500 = 1 THEN 'failed' ELSE 'completed' END,
           now() - interval '2 years' + g * interval '1 minute',
           now() - interval '2 years' + g * interval '1 minute'
    FROM generate_series({{lo}}, {{hi}}) AS g,
         (SELECT {_sql_array(NAMES)} AS names) AS n,
         (SELECT ARRAY['realistic','anime','cartoon','fantasy','cyberpunk','vintage',
                       'minimalist'] AS styles) AS s,
         (SELECT {_sql_array(TAGS)} AS tags) AS t
    """,
    # Themes: theme 1 is on u1's character c100 (it gets 2,000 variants); theme t on c(2t).
    f"""
    INSERT INTO character_themes (id, character_id, name, description, created_at, updated_at)
    SELECT md5('t' || g)::uuid::text,
           md5('c' || CASE WHEN g = 1 THEN 100 ELSE 2 * g END)::uuid::text,
           'Theme ' || g, 'Outfits and moods',
           now() - interval '1 year' + g * interval '1 minute',
           now() - interval '1 year' + g * interval '1 minute'
    FROM generate_series(1, {THEMES}) AS g
    """,
    f"""
    INSERT INTO theme_variants (id, theme_id, character_id, prompt, image_url, thumbnail_url,
                                metadata, created_at)
    SELECT md5('v' || g)::uuid::text, md5('t' || th)::uuid::text,
           md5('c' || CASE WHEN th = 1 THEN 100 ELSE 2 * th END)::uuid::text,
           'make them smile ' || g,
           'https://cdn.bench.example/variants/' || g || '.png',
           'https://cdn.bench.example/variants/' || g || '_thumb.webp',
           jsonb_build_object('imageKey', 'variants/' || g || '.png'),
           now() - interval '1 year' + g * interval '10 seconds'
    FROM (SELECT g, CASE WHEN g <= {HEAVY_THEME_VARIANTS} THEN 1
                        ELSE 2 + (g % {THEMES - 1}) END AS th
          FROM generate_series({{lo}}, {{hi}}) AS g) AS v
    """,
]

CONSTRAINTS_SQL = """
    SELECT k.conrelid::regclass::text, k.conname, pg_get_constraintdef(k.oid),
           k.contype::text AS contype
    FROM pg_constraint k
    WHERE k.contype IN ('p', 'u', 'f')
      AND (k.conrelid::regclass::text = ANY($1::text[])
           OR k.confrelid::regclass::text = ANY($1::text[]))
"""
PLAIN_INDEXES_SQL = """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
    WHERE t.relname = ANY($1::text[])
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""
LOADERS = 2  # connections loading in parallel (one per core here)


async def _parallel(url: str, statements: list[str]) -> None:
    """Run independent statements on LOADERS connections at once."""
    queue = list(statements)

    async def worker() -> None:
        conn = await asyncpg.connect(plain(url))
        try:
            await conn.execute("SET session_replication_role = replica")
            await conn.execute("SET maintenance_work_mem = '512MB'")
            while queue:
                await conn.execute(queue.pop(0))
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(LOADERS)))


async def seed(url: str) -> dict[str, float]:
    """Load the data set; return the seconds each step took.

    The tables keep the schema the migrations built: every index and key/foreign-key
    constraint touching them is dropped for the load and re-created afterwards from its own
    definition (``pg_get_indexdef`` / ``pg_get_constraintdef``), which is several times faster
    than maintaining random-uuid B-trees row by row.
    """
    tables = sorted(BIG_TABLES)
    conn = await asyncpg.connect(plain(url))
    times: dict[str, float] = {}
    try:
        constraints = await conn.fetch(CONSTRAINTS_SQL, tables)
        indexes = await conn.fetch(PLAIN_INDEXES_SQL, tables)
        foreign = [c for c in constraints if c["contype"] == "f"]
        keys = [c for c in constraints if c["contype"] != "f"]
        for c in [*foreign, *keys]:
            await conn.execute(f'ALTER TABLE {c[0]} DROP CONSTRAINT "{c[1]}"')
        for name, _ in indexes:
            await conn.execute(f"DROP INDEX {name}")
    finally:
        await conn.close()
    users, characters, themes, variants = SEED_SQL
    half_c, half_v = CHARACTERS // 2, VARIANTS // 2
    with Stopwatch() as sw:  # two halves each of the big ones, so both loaders stay busy
        await _parallel(
            url,
            [
                variants.format(lo=1, hi=half_v),
                variants.format(lo=half_v + 1, hi=VARIANTS),
                characters.format(lo=1, hi=half_c),
                characters.format(lo=half_c + 1, hi=CHARACTERS),
                themes,
                users,
            ],
        )
    times["rows"] = sw.seconds
    with Stopwatch() as sw:
        await _parallel(url, [f'ALTER TABLE {c[0]} ADD CONSTRAINT "{c[1]}" {c[2]}' for c in keys])
        await _parallel(url, [definition for _, definition in indexes])
    times["keys_and_indexes"] = sw.seconds
    with Stopwatch() as sw:
        await _parallel(
            url, [f'ALTER TABLE {c[0]} ADD CONSTRAINT "{c[1]}" {c[2]}' for c in foreign]
        )
    times["foreign_keys"] = sw.seconds
    with Stopwatch() as sw:
        await _parallel(url, [f"VACUUM (ANALYZE) {t}" for t in tables])
        await _parallel(url, ["CHECKPOINT"])
    times["vacuum_analyze"] = sw.seconds
    return times


# --- the queries ---------------------------------------------------------------------------


@dataclass
class Case:
    """A service call to time, and the statements it ran (captured once for EXPLAIN)."""

    name: str
    call: Callable[[AsyncSession], Awaitable[Any]]
    times: list[float] = field(default_factory=list)
    statements: list[tuple[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)


async def _fixtures(url: str) -> dict[str, Any]:
    """Ids and cursors the cases need, read from the seeded data."""
    from bot.services.pagination import encode_cursor

    conn = await asyncpg.connect(plain(url))
    try:
        heavy = await conn.fetchval("SELECT md5('u1')::uuid::text")
        theme = await conn.fetchval("SELECT md5('t1')::uuid::text")
        # The row that ends page DEEP_PAGE - 1 of the gallery (newest first): its cursor is
        # the "next" link a member pressing Next 4,999 times would hold.
        row = await conn.fetchrow(
            """
            SELECT c.created_at, c.id FROM characters c JOIN users u ON u.id = c.user_id
            WHERE c.is_public AND c.generation_status = 'completed'
              AND u.allow_gallery_showcase AND u.account_status = 'active'
            ORDER BY c.created_at DESC, c.id DESC OFFSET $1 LIMIT 1
            """,
            (DEEP_PAGE - 1) * PAGE_SIZE - 1,
        )
        counts = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM characters c JOIN users u ON u.id = c.user_id
                    WHERE c.is_public AND c.generation_status = 'completed'
                      AND u.allow_gallery_showcase AND u.account_status = 'active') AS gallery,
                   (SELECT count(*) FROM characters WHERE user_id = $1) AS heavy,
                   (SELECT count(*) FROM theme_variants WHERE theme_id = $2) AS theme
            """,
            heavy,
            theme,
        )
        users = [
            r[0]
            for r in await conn.fetch(
                "SELECT id FROM users WHERE account_status = 'active' LIMIT 5000"
            )
        ]
    finally:
        await conn.close()
    return {
        "heavy_user": heavy,
        "theme": theme,
        "deep_cursor": encode_cursor(row["created_at"], row["id"], "next"),
        "gallery_rows": counts["gallery"],
        "heavy_characters": counts["heavy"],
        "theme_variants": counts["theme"],
        "users": users,
    }


def build_cases(fx: dict[str, Any]) -> list[Case]:
    """The service calls, with the arguments the bot passes."""
    from bot.services import characters, gallery, quota, themes

    heavy, theme, users = fx["heavy_user"], fx["theme"], fx["users"]
    rng = random.Random(7)

    async def select_one(s: AsyncSession) -> Any:
        return (await s.execute(text("SELECT 1"))).scalar_one()

    async def charge(s: AsyncSession) -> Any:
        return await quota.charge(s, rng.choice(users))

    return [
        Case("SELECT 1", select_one),
        Case("gallery page 1", lambda s: gallery.browse(s, limit=PAGE_SIZE)),
        Case(
            f"gallery page {DEEP_PAGE}",
            lambda s: gallery.browse(s, cursor=fx["deep_cursor"], limit=PAGE_SIZE),
        ),
        Case("gallery style=anime", lambda s: gallery.browse(s, style="anime", limit=PAGE_SIZE)),
        Case("gallery tag=knight", lambda s: gallery.browse(s, tag="knight", limit=PAGE_SIZE)),
        Case(
            "gallery style+tag",
            lambda s: gallery.browse(s, style="fantasy", tag="dragon", limit=PAGE_SIZE),
        ),
        Case("character list (10k)", lambda s: characters.list_characters(s, heavy)),
        Case(
            "character list favorites",
            lambda s: characters.list_characters(s, heavy, filter="favorites"),
        ),
        Case("autocomplete ''", lambda s: characters.autocomplete_characters(s, heavy, "")),
        Case("autocomplete 'ar'", lambda s: characters.autocomplete_characters(s, heavy, "ar")),
        Case(
            "autocomplete 'zzz'",
            lambda s: characters.autocomplete_characters(s, heavy, "zzz"),
        ),
        Case("quota charge", charge),
        Case("variant list (2k)", lambda s: themes.list_variants(s, theme, heavy)),
    ]


def _walk(plan: dict[str, Any], out: list[str]) -> None:
    node = plan["Node Type"]
    where = plan.get("Index Name") or plan.get("Relation Name")
    out.append(f"{node}({where})" if where else node)
    for child in plan.get("Plans", []):
        _walk(child, out)


def _seq_scans(plan: dict[str, Any]) -> list[str]:
    found = []
    if plan["Node Type"] == "Seq Scan" and plan.get("Relation Name") in BIG_TABLES:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += _seq_scans(child)
    return found


async def explain(session: AsyncSession, case: Case) -> None:
    """EXPLAIN (ANALYZE) every statement the case ran, with the parameters it ran with."""
    conn = await session.connection()
    for statement, params in case.statements:
        rows = await conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, tuple(params or ())
        )
        raw = rows.scalar_one()
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
        nodes: list[str] = []
        _walk(plan["Plan"], nodes)
        case.plans.append(
            {
                "statement": " ".join(statement.split())[:160],
                "nodes": nodes,
                "seq_scans_on_big_tables": _seq_scans(plan["Plan"]),
                "execution_ms": plan.get("Execution Time"),
            }
        )


async def measure(url: str, fx: dict[str, Any], rounds: int, warmup: int) -> list[Case]:
    """Time every case round-robin, each in its own session (one open transaction, rolled
    back at the end), then EXPLAIN what each ran."""
    from db.engine import make_engine, make_session_factory

    cases = build_cases(fx)
    engine = make_engine(url, pool_size=len(cases) + 2, max_overflow=0)
    sessions = make_session_factory(engine)
    capture: list[tuple[str, Any]] | None = None

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if capture is not None and not statement.lstrip().upper().startswith("EXPLAIN"):
            capture.append((statement, params))

    opened = [sessions() for _ in cases]
    try:
        for session in opened:
            await session.execute(text("SELECT 1"))  # check out a connection, begin
        for round_no in range(warmup + rounds):
            for case, session in zip(cases, opened, strict=True):
                start = time.perf_counter()
                await case.call(session)
                elapsed = time.perf_counter() - start
                session.expunge_all()
                if round_no >= warmup:
                    case.times.append(elapsed)
        for case, session in zip(cases, opened, strict=True):
            capture = case.statements
            await case.call(session)
            capture = None
            session.expunge_all()
            await explain(session, case)
    finally:
        for session in opened:
            await session.rollback()
            await session.close()
        await engine.dispose()
    return cases


def report(cases: list[Case], seed_times: dict[str, float], fx: dict[str, Any]) -> int:
    base = cases[0]
    base_p50 = percentile(base.times, 50)
    base_p95 = percentile(base.times, 95)
    rows = []
    for case in cases:
        p50, p95 = percentile(case.times, 50), percentile(case.times, 95)
        rows.append(
            [
                case.name,
                len(case.times),
                ms(p50),
                ms(p95),
                f"{p50 / base_p50:.1f}",
                f"{p95 / base_p95:.1f}",
                len(case.statements),
            ]
        )
    print()
    print(
        table(
            ["query", "n", "p50 ms", "p95 ms", "p50/SELECT1", "p95/SELECT1 p95", "stmts"],
            rows,
        )
    )
    print()
    print("EXPLAIN (ANALYZE) node types, per statement:")
    for case in cases[1:]:
        for plan in case.plans:
            marker = "  SEQ SCAN!" if plan["seq_scans_on_big_tables"] else ""
            print(
                f"  {case.name:<26} {plan['execution_ms']:>7.3f} ms  "
                + " > ".join(plan["nodes"])
                + marker
            )
    first = next(c for c in cases if c.name == "gallery page 1")
    deep = next(c for c in cases if c.name == f"gallery page {DEEP_PAGE}")
    deep_ratio = percentile(deep.times, 50) / percentile(first.times, 50)
    worst = max(cases[1:], key=lambda c: percentile(c.times, 95))
    worst_ratio = percentile(worst.times, 95) / base_p95
    seq = [c.name for c in cases[1:] if any(p["seq_scans_on_big_tables"] for p in c.plans)]
    targets = [
        Target(f"gallery page {DEEP_PAGE} / page 1 (p50)", deep_ratio, 1.5, "x"),
        Target(f"worst p95 / SELECT 1 p95 ({worst.name})", worst_ratio, 10.0, "x"),
        Target("queries whose plan has a Seq Scan on a big table", float(len(seq)), 0.0),
    ]
    for case in cases[1:]:
        targets.append(
            Target(
                f"p95 {case.name} / SELECT 1 p95",
                percentile(case.times, 95) / base_p95,
                10.0,
                "x",
            )
        )
    seeding = sum(seed_times.values())
    print()
    print(
        "seeding: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in seed_times.items())
        + f" — total {seeding:.1f}s"
    )
    data = {
        "seed_seconds": seed_times,
        "data": {k: v for k, v in fx.items() if k not in ("users", "deep_cursor")},
        "select1_ms": {"p50": base_p50 * 1000, "p95": base_p95 * 1000},
        "queries": [
            {
                "name": c.name,
                "n": len(c.times),
                "p50_ms": percentile(c.times, 50) * 1000,
                "p95_ms": percentile(c.times, 95) * 1000,
                "p95_over_select1_p95": percentile(c.times, 95) / base_p95,
                "plans": c.plans,
            }
            for c in cases
        ],
    }
    headline = (
        f"SELECT 1 p95 {ms(base_p95)} ms; deep/first {deep_ratio:.2f}x; "
        f"worst p95 {worst.name} {ms(percentile(worst.times, 95))} ms = {worst_ratio:.1f}x "
        f"SELECT 1; seeding {seeding:.0f}s"
    )
    return finish("queries", targets, data, headline)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    async with scratch_database("charbot_bench_q") as url:
        print(
            f"seeding {USERS:,} users, {CHARACTERS:,} characters, {THEMES:,} themes, "
            f"{VARIANTS:,} variants ..."
        )
        seed_times = await seed(url)
        print(
            "seeded in "
            + f"{sum(seed_times.values()):.1f}s ("
            + ", ".join(f"{k} {v:.1f}s" for k, v in seed_times.items())
            + ")"
        )
        fx = await _fixtures(url)
        print(
            f"gallery rows {fx['gallery_rows']:,}; heavy user {fx['heavy_characters']:,} "
            f"characters; theme with {fx['theme_variants']:,} variants"
        )
        cases = await measure(url, fx, args.rounds, args.warmup)
        return report(cases, seed_times, fx)


if __name__ == "__main__":
    from bench.common import run

    run(main)
