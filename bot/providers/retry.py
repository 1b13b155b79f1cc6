"""Bounded retries with exponential backoff and jitter for retryable provider errors, and
waiting out a provider that is busy for longer (429/503 with Retry-After beyond the retries:
never sooner than it asks, up to a deadline). Whoever runs the call hears of each wait through
:func:`waits_reported_to` (the member is shown that the image service is busy). Every wait is a
plain ``asyncio.sleep``: cancelling the waiting task ends it at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from bot.errors import GenerationError

log = logging.getLogger(__name__)

T = TypeVar("T")

WaitListener = Callable[[float], Awaitable[None]]
_LISTENER: ContextVar[WaitListener | None] = ContextVar("provider_wait_listener", default=None)


@contextlib.contextmanager
def waits_reported_to(listener: WaitListener) -> Iterator[None]:
    """Within the block, ``listener(seconds)`` hears of every wait for a busy provider (a
    429/503 that said when to come back) before it begins."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


async def _report_wait(seconds: float) -> None:
    listener = _LISTENER.get()
    if listener is None:
        return
    try:
        await listener(seconds)
    except Exception:  # telling the member must not fail the generation
        log.debug("the wait listener failed", exc_info=True)


class ProviderError(GenerationError):
    """A GenerationError that also carries the server's retry hint (Retry-After), if any."""

    def __init__(
        self,
        kind: str,
        *,
        retryable: bool = False,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(kind, retryable=retryable, detail=detail)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts.

    ``max_retries`` extra attempts follow the first one. The n-th wait (n from 0) is
    ``backoff_base * 2**n`` capped at ``max_backoff``, scaled by a random factor in
    [0.5, 1.0] (jitter), and raised to the server's Retry-After (capped at
    ``max_retry_after``) when one was given.

    With ``wait_seconds``, a provider that still says when to come back (Retry-After) once the
    retries are used up, or asks for longer than ``max_retry_after``, is waited out: each try
    no sooner than its Retry-After, until ``wait_seconds`` after the first attempt.
    """

    max_retries: int
    backoff_base: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    wait_seconds: float = 0.0

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry_index`` (0 = the first retry)."""
        backoff = min(self.max_backoff, self.backoff_base * (2.0**retry_index))
        backoff *= random.uniform(0.5, 1.0)
        if retry_after is not None and retry_after > 0:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff

    def next_wait(self, retry_index: int, retry_after: float | None, waited: float) -> float | None:
        """Seconds before the next try after retry ``retry_index`` failed with the hint
        ``retry_after``, ``waited`` seconds after the first attempt; None to give up."""
        hint = retry_after if retry_after is not None and retry_after > 0 else None
        within_budget = retry_index < self.max_retries
        if hint is None or self.wait_seconds <= 0:
            return self.delay(retry_index, hint) if within_budget else None
        if within_budget and hint <= self.max_retry_after:
            return self.delay(retry_index, hint)
        wait = hint * random.uniform(1.0, 1.2)  # never sooner than asked
        return wait if waited + wait <= self.wait_seconds else None


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    operation: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the retries (and the time to wait
    out a busy provider, see :class:`RetryPolicy`) are used up.

    Raises:
        GenerationError: the last error, when it is not retryable or no retries are left.
    """
    started = time.monotonic()
    retry_index = 0
    while True:
        try:
            return await attempt()
        except GenerationError as err:
            if not err.retryable:
                raise
            hint = err.retry_after if isinstance(err, ProviderError) else None
            wait = policy.next_wait(retry_index, hint, time.monotonic() - started)
            if wait is None:
                raise
            if retry_index < policy.max_retries:
                log.warning(
                    "%s failed (%s), retry %d/%d in %.2fs",
                    operation,
                    err.kind,
                    retry_index + 1,
                    policy.max_retries,
                    wait,
                )
            else:
                log.info("%s: the provider is busy (%s); waiting %.2fs", operation, err.kind, wait)
            if hint is not None and hint > 0:
                await _report_wait(wait)
            retry_index += 1
            await sleep(wait)
