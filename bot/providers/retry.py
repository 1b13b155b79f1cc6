"""Bounded retries with exponential backoff and jitter for retryable provider errors."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.errors import GenerationError

log = logging.getLogger(__name__)

T = TypeVar("T")


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
    """

    max_retries: int
    backoff_base: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 60.0

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry_index`` (0 = the first retry)."""
        backoff = min(self.max_backoff, self.backoff_base * (2.0**retry_index))
        backoff *= random.uniform(0.5, 1.0)
        if retry_after is not None and retry_after > 0:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    operation: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the retries are used up.

    Raises:
        GenerationError: the last error, when it is not retryable or no retries are left.
    """
    retry_index = 0
    while True:
        try:
            return await attempt()
        except GenerationError as err:
            if not err.retryable or retry_index >= policy.max_retries:
                raise
            hint = err.retry_after if isinstance(err, ProviderError) else None
            wait = policy.delay(retry_index, hint)
            log.warning(
                "%s failed (%s), retry %d/%d in %.2fs",
                operation,
                err.kind,
                retry_index + 1,
                policy.max_retries,
                wait,
            )
            retry_index += 1
            await sleep(wait)
