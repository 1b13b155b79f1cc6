"""Discord's OpenAPI description: the pinned copy the fake Discord validates requests against.

Discord publishes the document in its GitHub repository ``discord/discord-api-spec``. No
package registry serves it: the npm package ``discord-api-spec`` holds TypeScript types and Zod
schemas generated from it, not the document (both published versions, 10.0.249554 and
10.0.266135, ship only ``build/*.js``/``*.ts``). So the tests carry it themselves:
``tests/data/discord-openapi.json.gz`` (MIT, Discord; the licence is beside it), pinned by the
SHA-256 of the JSON below.

Where the spec comes from, first found wins:

1. the committed copy, when its content has the pinned checksum (unpacked once into
   ``.pytest_cache/discord-api-spec/``);
2. ``../shared/discord-api-spec/openapi.json``, the platform's copy, when it exists;
3. nowhere: the tests that need it skip with :data:`HOW_TO_GET`.

``python -m tests.openapi_spec refresh [PATH]`` replaces the committed copy with PATH (default:
the platform's copy) and updates the pin in this file.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINNED = ROOT / "tests" / "data" / "discord-openapi.json.gz"
PLATFORM_COPY = ROOT.parent / "shared" / "discord-api-spec" / "openapi.json"
CACHE = ROOT / ".pytest_cache" / "discord-api-spec"

# discord/discord-api-spec at commit 74fda0fad044407ea280043a03ffc9bc64c4e49e (2026-07-18)
PINNED_SHA256 = "8c1d0707ccdf8e380a86dfba04058820a66435c1b69d5ed82e04dd8c0520dd73"
PINNED_COMMIT = "74fda0fad044407ea280043a03ffc9bc64c4e49e"

HOW_TO_GET = (
    "Discord OpenAPI spec unavailable: restore tests/data/discord-openapi.json.gz "
    "(git checkout -- tests/data) or put openapi.json from github.com/discord/discord-api-spec "
    "at ../shared/discord-api-spec/openapi.json"
)


@dataclass(frozen=True)
class Spec:
    """Where the spec was found: ``path`` (None when nowhere) and a one-line description."""

    path: Path | None
    source: str


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def pinned_json() -> bytes | None:
    """The committed copy unpacked, or None when the file is missing or not gzip."""
    try:
        return gzip.decompress(PINNED.read_bytes())
    except (OSError, EOFError):
        return None


def _unpacked(data: bytes) -> Path:
    """The pinned JSON as a plain file in the cache (written once, atomically)."""
    target = CACHE / f"openapi-{PINNED_SHA256[:16]}.json"
    if target.is_file() and sha256(target.read_bytes()) == PINNED_SHA256:
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=CACHE, prefix=".openapi-", suffix=".tmp")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    Path(tmp).chmod(0o644)
    Path(tmp).replace(target)
    return target


@functools.cache
def locate() -> Spec:
    """The spec to validate against (see the module docstring for the order)."""
    data = pinned_json()
    if data is not None and sha256(data) == PINNED_SHA256:
        source = f"pinned copy {PINNED_COMMIT[:12]}, sha256 {PINNED_SHA256[:12]}"
        return Spec(_unpacked(data), source)
    if PLATFORM_COPY.is_file():
        return Spec(PLATFORM_COPY, "../shared/discord-api-spec/openapi.json (pinned copy unusable)")
    return Spec(None, HOW_TO_GET)


def compress(data: bytes) -> bytes:
    """gzip ``data`` reproducibly: no file name, no time stamp."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buffer.getvalue()


def refresh(
    source: Path, commit: str = "", *, pinned: Path = PINNED, module: Path = Path(__file__)
) -> str:
    """Replace the committed copy by ``source`` and rewrite the pin in ``module`` (this file)."""
    data = source.read_bytes()
    json.loads(data)  # refuse to pin something that is not JSON
    digest = sha256(data)
    pinned.write_bytes(compress(data))
    text = module.read_text(encoding="utf-8")
    text = re.sub(r'PINNED_SHA256 = "[0-9a-f]*"', f'PINNED_SHA256 = "{digest}"', text)
    if commit:
        text = re.sub(r'PINNED_COMMIT = "[0-9a-f]*"', f'PINNED_COMMIT = "{commit}"', text)
    module.write_text(text, encoding="utf-8")
    return digest


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "refresh" or len(argv) > 2:
        print("usage: python -m tests.openapi_spec refresh [PATH/TO/openapi.json]", file=sys.stderr)
        return 2
    source = Path(argv[1]) if len(argv) == 2 else PLATFORM_COPY
    commit = ""
    version = source.parent / "VERSION"  # the platform's copy names its upstream commit
    if version.is_file():
        commit = version.read_text(encoding="utf-8").split()[0]
    digest = refresh(source, commit)
    print(f"tests/data/discord-openapi.json.gz <- {source} (sha256 {digest})")
    print("Update the commit and date in the comment above PINNED_SHA256 if they changed.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
