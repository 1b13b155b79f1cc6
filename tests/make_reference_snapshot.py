"""Regenerate tests/data/reference_catalog.json from ../shared/spec/seed-schema.sql.

Usage: python -m tests.make_reference_snapshot POSTGRES_URL
The snapshot lets the schema test compare catalogs where ../shared is absent; a test keeps it
equal to the live reference whenever ../shared is present.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import asyncpg

from tests.dbutil import catalog, create_database, drop_database, plain

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "spec" / "seed-schema.sql"
SNAPSHOT = Path(__file__).resolve().parent / "data" / "reference_catalog.json"


async def reference_catalog(server_url: str) -> dict[str, list[list[str]]]:
    """Apply the seed DDL to a scratch database and read its catalog."""
    url = await create_database(server_url, prefix="charbot_ref")
    try:
        conn = await asyncpg.connect(plain(url))
        try:
            await conn.execute(SEED.read_text())
        finally:
            await conn.close()
        return await catalog(url)
    finally:
        await drop_database(server_url, url)


def main() -> None:
    server = sys.argv[1]
    if server.startswith("postgresql://"):
        server = "postgresql+asyncpg://" + server.split("://", 1)[1]
    data = asyncio.run(reference_catalog(server))
    SNAPSHOT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")


if __name__ == "__main__":
    main()
