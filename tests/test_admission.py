"""Admission: acknowledgements never wait for other interactions' work; the work takes turns."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from bot.interactions.admission import Admission, InFlight, first_answer
from bot.ops.eventloop import run
from tests.conftest import truncate_all
from tests.e2e import Stack, collect_violations, running_stack, wait_reply


async def test_at_most_limit_tasks_work_at_once_and_in_arrival_order():
    admission = Admission(2)
    inside = 0
    most = 0
    order: list[int] = []

    async def work(n: int) -> None:
        nonlocal inside, most
        await admission.enter()
        await admission.enter()  # a second enter in the same task takes no second slot
        inside += 1
        most = max(most, inside)
        order.append(n)
        await asyncio.sleep(0.01)
        inside -= 1

    tasks = []
    for n in range(6):
        tasks.append(asyncio.create_task(work(n)))
        await asyncio.sleep(0)  # arrive one after another
    await asyncio.gather(*tasks)
    assert most == 2
    assert order == list(range(6))
    assert admission.working == 0
    assert admission.waiting == 0


async def test_a_slot_comes_back_when_its_task_fails_or_is_cancelled():
    admission = Admission(1)

    async def fails() -> None:
        await admission.enter()
        raise RuntimeError("boom")

    async def hangs() -> None:
        await admission.enter()
        await asyncio.sleep(60)

    with pytest.raises(RuntimeError):
        await asyncio.create_task(fails())
    stuck = asyncio.create_task(hangs())
    await asyncio.sleep(0.01)
    assert admission.working == 1
    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)
    await asyncio.sleep(0)

    async def next_one() -> str:
        await admission.enter()
        return "served"

    assert await asyncio.wait_for(asyncio.create_task(next_one()), 1) == "served"


async def test_waiting_for_a_slot_can_be_cancelled_without_losing_one():
    admission = Admission(1)
    holder_release = asyncio.Event()

    async def holder() -> None:
        await admission.enter()
        await holder_release.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(admission.enter())
    await asyncio.sleep(0.01)
    assert admission.waiting == 1
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert admission.waiting == 0
    holder_release.set()
    await held
    await asyncio.sleep(0)
    assert admission.working == 0


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Admission(0)


def test_the_bot_runs_on_uvloop_where_it_is_installed():
    pytest.importorskip("uvloop")

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(loop_module()).startswith("uvloop")


def test_the_start_up_heap_is_frozen_and_young_collections_are_rarer():
    """In a fresh interpreter (a frozen object is never freed, so not in the test process)."""
    code = (
        "import gc; from bot.ops.eventloop import freeze_startup_heap, YOUNG_COLLECTION_THRESHOLD;"
        "before = gc.get_freeze_count(); freeze_startup_heap();"
        "assert before == 0 and gc.get_freeze_count() > 1000, gc.get_freeze_count();"
        "assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD; print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("admission")) as s:
        await s.start_bot(database_pool_size=1)
        yield s
    await truncate_all(engine)


async def test_a_command_is_acknowledged_while_every_work_slot_is_busy(stack: Stack):
    """With the one slot held, /quota is acknowledged at once (Discord shows "thinking…") and
    answered as soon as the slot is free."""
    bot = stack.bot
    assert bot is not None
    assert bot.deps.admission.limit == 1
    collect_violations(stack)
    release = asyncio.Event()

    async def busy() -> None:
        await bot.deps.admission.enter()
        await release.wait()

    holder = asyncio.create_task(busy())
    await asyncio.sleep(0)
    member = stack.member("patient")
    ix = await stack.command(member, "quota")
    await ix.acknowledged(timeout=3)
    assert ix.response_type == 5  # deferred, privately
    await asyncio.sleep(0.3)
    assert ix.answer_delay is None  # its work waits for the slot
    assert bot.deps.admission.waiting == 1
    release.set()
    await holder
    reply = await wait_reply(ix)
    assert reply["embeds"][0]["title"] == bot.deps.catalog.t("en", "quota.title")
    assert reply["flags"] & 64  # private
    assert collect_violations(stack) == []


async def test_a_quick_command_on_an_idle_bot_answers_in_its_first_response(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """A free slot and a quick answer: /quota is acknowledged by its answer itself (one
    private callback with the embed), with no "thinking…" step and no followup."""
    bot = stack.bot
    assert bot is not None
    # a window no busy test machine can miss: what is checked is the answer being the
    # acknowledgement, not how fast the machine is
    monkeypatch.setattr("bot.interactions.admission.DIRECT_ANSWER_SECONDS", 2.0)
    collect_violations(stack)
    ix = await stack.command(stack.member("prompt"), "quota")
    reply = await wait_reply(ix)
    assert [cb["type"] for cb in ix.callbacks] == [4]
    assert reply["embeds"][0]["title"] == bot.deps.catalog.t("en", "quota.title")
    assert reply["flags"] & 64  # private
    assert ix.followups == []
    assert ix.rejected == []
    assert collect_violations(stack) == []


async def test_a_quick_command_whose_answer_is_late_is_deferred_first(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """When the answer is not ready within the direct-answer window, the interaction is
    deferred then, and the answer fills the "thinking…" message: one acknowledgement only."""
    bot = stack.bot
    assert bot is not None
    monkeypatch.setattr("bot.interactions.admission.DIRECT_ANSWER_SECONDS", 0.0)
    collect_violations(stack)
    ix = await stack.command(stack.member("unhurried"), "quota")
    reply = await wait_reply(ix)
    assert [cb["type"] for cb in ix.callbacks] == [5]
    assert reply["embeds"][0]["title"] == bot.deps.catalog.t("en", "quota.title")
    assert reply["flags"] & 64
    assert ix.rejected == []
    assert collect_violations(stack) == []


class _Response:
    """The response side of an interaction: done once anything was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def is_done(self) -> bool:
        return bool(self.sent)


async def test_two_would_be_first_responses_never_both_go_out():
    """The answer is on its way when the late deferral wakes: the deferral waits for the
    answer and then finds the response done, so only the answer is sent."""
    interaction: Any = SimpleNamespace(extras={}, response=_Response())
    sending = asyncio.Event()
    arrived = asyncio.Event()

    async def first(kind: str, hold: asyncio.Event | None) -> bool:
        async with first_answer(interaction) as still_open:
            if still_open:
                if hold is not None:
                    sending.set()
                    await hold.wait()  # the request is in flight
                interaction.response.sent.append(kind)
            return bool(still_open)

    answer = asyncio.create_task(first("answer", arrived))
    await sending.wait()
    deferral = asyncio.create_task(first("defer", None))
    await asyncio.sleep(0.01)
    assert not deferral.done()  # it waits for the answer to be sent
    arrived.set()
    assert await answer is True
    assert await deferral is False
    assert interaction.response.sent == ["answer"]


async def test_a_task_stuck_past_the_longest_hold_gives_its_slot_back():
    admission = Admission(1, max_hold=0.05)
    release = asyncio.Event()

    async def stuck() -> None:
        await admission.enter()
        await release.wait()

    async def next_one() -> str:
        await admission.enter()
        return "served"

    held = asyncio.create_task(stuck())
    await asyncio.sleep(0)
    assert await asyncio.wait_for(asyncio.create_task(next_one()), 1) == "served"
    release.set()
    await held  # ending after its time was up gives back nothing twice
    await asyncio.sleep(0)
    assert admission.working == 0

    most = 0

    async def later() -> None:
        nonlocal most
        await admission.enter()
        most = max(most, admission.working)
        await asyncio.sleep(0.01)

    # still one slot, not two: two newcomers take turns
    await asyncio.wait_for(asyncio.gather(*(asyncio.create_task(later()) for _ in range(2))), 1)
    assert most == 1


async def test_drain_waits_for_admitted_and_waiting_work_within_the_grace():
    admission = Admission(1)
    assert await admission.drain(0.01)  # nothing to wait for
    release = asyncio.Event()
    done: list[str] = []

    async def work(name: str) -> None:
        await admission.enter()
        await release.wait()
        done.append(name)

    tasks = [asyncio.create_task(work(n)) for n in ("first", "second")]
    await asyncio.sleep(0.01)
    assert not await admission.drain(0.05)  # one working, one waiting: not idle in time
    asyncio.get_running_loop().call_later(0.05, release.set)
    assert await admission.drain(2)
    assert done == ["first", "second"]
    await asyncio.gather(*tasks)


@pytest.fixture
async def closing_stack(database_url, engine, tmp_path):
    async with running_stack(database_url, tmp_path) as s:
        await s.start_bot(database_pool_size=1)
        yield s
    await truncate_all(engine)


async def test_in_flight_drain_waits_for_tracked_tasks_and_reports_the_stragglers():
    flows = InFlight()
    first, second = asyncio.Event(), asyncio.Event()

    async def flow(release: asyncio.Event) -> None:
        flows.track()
        flows.track()  # tracking twice counts once
        await release.wait()

    quick = asyncio.create_task(flow(first))
    slow = asyncio.create_task(flow(second))
    await asyncio.sleep(0)
    assert len(flows) == 2
    first.set()
    assert await flows.drain(0.05) is False  # the slow one is still running
    assert quick.done()
    assert not slow.done()
    assert len(flows) == 1
    second.set()
    assert await flows.drain(1.0) is True
    assert slow.done()
    assert len(flows) == 0


async def test_shutdown_answers_an_interaction_still_waiting_for_its_turn(closing_stack: Stack):
    """The bot closes while /quota waits for a slot: its answer still comes before the bot
    disconnects."""
    stack = closing_stack
    bot = stack.bot
    assert bot is not None
    title = bot.deps.catalog.t("en", "quota.title")
    release = asyncio.Event()

    async def busy() -> None:
        await bot.deps.admission.enter()
        await release.wait()

    holder = asyncio.create_task(busy())
    await asyncio.sleep(0)
    ix = await stack.command(stack.member("closing"), "quota")
    await ix.acknowledged(timeout=3)
    closing = asyncio.create_task(stack.stop_bot())
    await asyncio.sleep(0.3)
    assert not closing.done()  # waiting for the acknowledged interaction's turn
    assert ix.answer_delay is None
    release.set()
    await holder
    await asyncio.wait_for(closing, 15)
    reply = await wait_reply(ix, timeout=1)
    assert reply["embeds"][0]["title"] == title


async def test_a_slot_goes_to_the_next_task_once_the_answer_goes_out() -> None:
    """leave(): a task that sends its answer gives its slot on at once, though it goes on (the
    request to Discord, what follows the answer); it does not give a second slot back."""
    admission = Admission(1)
    answered = asyncio.Event()
    finish = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        await admission.enter()
        order.append("first works")
        admission.leave()  # its answer is going out
        answered.set()
        await finish.wait()  # still sending
        admission.leave()  # again: nothing more to give back
        order.append("first ends")

    async def second() -> None:
        await answered.wait()
        await admission.enter()
        order.append("second works")
        await finish.wait()  # keeps its slot until it ends

    async def third() -> None:
        await answered.wait()
        await admission.enter()
        order.append("third works")

    tasks = [asyncio.create_task(f()) for f in (first, second, third)]
    await asyncio.sleep(0.05)
    assert order == ["first works", "second works"]  # the third waits for the second's slot
    assert admission.working == 1
    assert admission.waiting == 1
    finish.set()
    await asyncio.gather(*tasks)
    assert order == ["first works", "second works", "first ends", "third works"]
    assert admission.working == 0
