"""Progress in the deferred response: shown beside the generation, never after the result."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.i18n import Catalog
from cogs.characters.flows import ProgressReporter

CATALOG = Catalog.load()


class SlowResponse:
    """The interaction's side of it: each edit of the original response takes ``delay``."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.created_at = datetime.now(UTC)
        self.shown: list[str] = []
        self.in_flight = 0

    async def edit_original_response(self, *, content: str, **_: Any) -> None:
        self.in_flight += 1
        await asyncio.sleep(self.delay)
        self.shown.append(content)
        self.in_flight -= 1


def reporter(response: SlowResponse) -> ProgressReporter:
    return ProgressReporter(CATALOG, response, "en")  # type: ignore[arg-type]


async def test_reporting_a_stage_does_not_wait_for_discord():
    response = SlowResponse(delay=0.5)
    progress = reporter(response)
    started = asyncio.get_running_loop().time()
    await progress("prompt", None)
    assert asyncio.get_running_loop().time() - started < 0.1
    await asyncio.sleep(0.01)  # the edit is on its way
    await progress.settle()
    assert response.shown == [CATALOG.t("en", "progress.prompt")]


async def test_stages_passed_during_an_edit_are_skipped_for_the_latest():
    response = SlowResponse(delay=0.05)
    progress = reporter(response)
    await progress("queued", 3)
    await asyncio.sleep(0.01)  # the edit is on its way
    await progress("queued", 2)
    await progress("prompt", None)
    await progress("drawing", None)
    await asyncio.sleep(0.2)
    await progress.settle()
    assert response.shown == [
        CATALOG.t("en", "progress.queued", position=3),
        CATALOG.t("en", "progress.drawing"),
    ]
    assert response.in_flight == 0


async def test_a_stage_not_yet_sent_when_the_result_is_ready_is_never_shown():
    response = SlowResponse(delay=0.05)
    progress = reporter(response)
    await progress("saving", None)
    await progress.settle()  # the result is ready before the edit started
    await asyncio.sleep(0.1)
    assert response.shown == []


async def test_nothing_is_shown_after_settle_even_with_an_edit_on_its_way():
    response = SlowResponse(delay=0.05)
    progress = reporter(response)
    await progress("prompt", None)
    await asyncio.sleep(0.01)  # the edit is on its way
    await progress("drawing", None)  # waits behind it
    await progress.settle()  # returns once that edit has landed
    assert response.in_flight == 0
    assert response.shown == [CATALOG.t("en", "progress.prompt")]
    await progress("saving", None)
    await asyncio.sleep(0.1)
    assert response.shown == [CATALOG.t("en", "progress.prompt")]


class Burst:
    """A burst of acceptances that ends when told to."""

    def __init__(self) -> None:
        self.over = asyncio.Event()

    async def quiet(self) -> None:
        await self.over.wait()


async def test_the_first_stage_waits_for_a_burst_of_acceptances_to_end():
    """The first stage (and its Cancel button) is shown once no generation waits to be
    accepted: its edit does not slow a burst down; the stages after it are shown at once."""
    response = SlowResponse(delay=0.01)
    burst = Burst()
    progress = ProgressReporter(CATALOG, response, "en", quiet=burst.quiet)  # type: ignore[arg-type]
    await progress("prompt", None)
    await asyncio.sleep(0.1)
    assert response.shown == []
    burst.over.set()
    await asyncio.sleep(0.05)
    assert response.shown == [CATALOG.t("en", "progress.prompt")]
    burst.over.clear()  # a later burst does not hold the next stage back
    await progress("drawing", None)
    await asyncio.sleep(0.05)
    await progress.settle()
    assert response.shown[-1] == CATALOG.t("en", "progress.drawing")


async def test_a_result_ready_during_a_burst_is_not_held_back_by_its_first_stage():
    """Settling while the first stage still waits for the burst returns at once, and that
    stage is never shown."""
    response = SlowResponse(delay=0.01)
    burst = Burst()
    progress = ProgressReporter(CATALOG, response, "en", quiet=burst.quiet)  # type: ignore[arg-type]
    await progress("prompt", None)
    await asyncio.sleep(0.01)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(progress.settle(), 1.0)
    assert asyncio.get_running_loop().time() - started < 0.5
    burst.over.set()
    await asyncio.sleep(0.05)
    assert response.shown == []


async def test_a_flow_handing_its_generation_to_a_worker_shows_its_place_at_once():
    """``flush`` (the flow ends; another process's worker posts the result) shows the stage
    without waiting for the burst: shown later, it could land on top of the worker's post."""
    response = SlowResponse(delay=0.01)
    burst = Burst()
    progress = ProgressReporter(CATALOG, response, "en", quiet=burst.quiet)  # type: ignore[arg-type]
    await progress("queued", 2)
    await asyncio.wait_for(progress.flush(), 1.0)
    assert response.shown == [CATALOG.t("en", "progress.queued", position=2)]
