"""The runtime the bot runs on: uvloop where it is installed (Linux, macOS), else asyncio's
loop, and a garbage collector tuned for a long-lived server.

uvloop's loop and transports are written in C: under load the bot spends less CPU per
interaction on the loop itself and on its sockets (bench/interactions).

The collector: everything built at start-up (discord.py's command tree, SQLAlchemy's mappers,
botocore's service models, google-genai's types) lives as long as the process, yet every full
collection walks it again; under load (bench/interactions) those walks paused the event loop
for up to 230 ms. Freezing the start-up heap takes it out of the collections, and a larger
first-generation threshold lets an interaction's short-lived objects die before they are
promoted.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor when uvloop can be imported, else None (asyncio's default)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows, or an install without it
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the fastest available loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


# gen0 threshold (objects allocated before a young collection); CPython's default is 700
YOUNG_COLLECTION_THRESHOLD = 20_000


def freeze_startup_heap() -> None:
    """Collect once, move every surviving object out of the collector's reach for good, and
    collect the young generation less often. Call once, when the bot is built and before it
    connects; only in the bot's own process (a frozen object is never freed)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
    return_big_buffers()


# glibc mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: Allocations at least this large get pages of their own, given back when freed.
MMAP_THRESHOLD = 256 * 1024


def return_big_buffers() -> bool:
    """glibc only: serve every allocation of MMAP_THRESHOLD or more (a portrait's bytes, its
    base64 text, a decoded bitmap) from its own mapping, returned to the system when freed, and
    keep the worker threads to two malloc arenas. glibc otherwise raises its mmap threshold
    after the first such buffer is freed, and later portraits land in the heap, where the
    holes they leave keep the process's peak size for good (bench/generation: peak RSS of 100
    creates). False where there is no glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)
        and mallopt(_M_ARENA_MAX, 2)
    )
