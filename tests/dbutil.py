"""Helpers for tests that need their own scratch databases on the test server."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def plain(url: str) -> str:
    """The libpq form of an asyncpg SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def create_database(server_url: str, prefix: str = "charbot_test") -> str:
    """Create an empty database next to ``server_url``; return its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(plain(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    """Drop a scratch database made by ``create_database``."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(plain(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


CATALOG_SQL = {
    "columns": """
        select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
               coalesce(pg_get_expr(d.adbin, d.adrelid), '')
        from pg_attribute a join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
          and c.relname <> 'alembic_version'""",
    "constraints": """
        select c.relname, k.conname, pg_get_constraintdef(k.oid)
        from pg_constraint k join pg_class c on c.oid = k.conrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relname <> 'alembic_version'""",
    "indexes": """
        select tablename, indexname, indexdef from pg_indexes
        where schemaname = 'public' and tablename <> 'alembic_version'""",
}


async def catalog(url: str, tables: set[str] | None = None) -> dict[str, list[list[str]]]:
    """Every column, constraint and index of the public schema, as sorted lists of strings."""
    conn = await asyncpg.connect(plain(url))
    try:
        out: dict[str, list[list[str]]] = {}
        for kind, sql in CATALOG_SQL.items():
            rows = [[str(v) for v in row] for row in await conn.fetch(sql)]
            # PostgreSQL 18 lists NOT NULL as constraints too; attnotnull already covers them.
            rows = [r for r in rows if not (kind == "constraints" and r[2].startswith("NOT NULL"))]
            if tables is not None:
                rows = [r for r in rows if r[0] in tables]
            out[kind] = sorted(rows)
        return out
    finally:
        await conn.close()
