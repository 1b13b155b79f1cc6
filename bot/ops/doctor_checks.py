"""What a ``charbot doctor`` check reports, and the scrubbing that keeps secrets out of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One service's line in the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    note: str = ""  # advice worth reading even when the check passes
    more: tuple[str, ...] = ()  # further findings, one line each (a channel, a model ...)


def scrub(text: str, secrets: Iterable[str], *, limit: int = 300) -> str:
    """``text`` without any of ``secrets`` (a server may echo a key back), cut to ``limit``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text if len(text) <= limit else text[: limit - 1] + "…"
