"""Where the database is: DATABASE_URL, or the embedded server under DATA_DIR."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from db.embedded import embedded_postgres


@contextlib.contextmanager
def database_url(configured: str | None, data_dir: Path) -> Iterator[str]:
    """Yield the configured URL, or start the embedded server for the duration of the block."""
    if configured:
        yield configured
        return
    with embedded_postgres(data_dir) as url:
        yield url
