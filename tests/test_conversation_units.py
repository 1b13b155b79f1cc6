"""The conversation's parts on their own: an edit's history as Gemini receives it (real SDK, fake
server), the offline generator taking it too, reading an instruction, a member's turns in a
conversation, and refusals told once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from bot.config import Settings
from bot.providers.base import MAX_HISTORY_TURNS, EditTurn
from bot.providers.factory import make_genai_client
from bot.providers.gemini import GeminiImageProvider
from bot.providers.offline import OfflineImageProvider
from bot.services.conversation.instructions import read_instruction
from bot.services.generation.turns import ConversationTurns
from cogs.conversation.talk import Refusals
from tests.fakes.gemini_server import FakeGemini, png_bytes

BOT_ID = 1234567890


@pytest_asyncio.fixture(scope="module")
async def gemini():
    server = FakeGemini()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module")
async def images(gemini):
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        gemini_api_key="AIzaFAKE-units-0123456789abcdefghijk",
        gemini_base_url=gemini.base_url,
    )
    client = make_genai_client(settings)
    yield GeminiImageProvider(
        client, "gemini-2.5-flash-image", timeout=5.0, max_retries=0, backoff_base=0.001
    )
    await client.aio.aclose()
    client.close()


async def test_an_edit_sends_its_branch_as_earlier_turns(gemini, images):
    """Each earlier turn is the member's instruction then the model's image; the edit itself
    comes last with its source image; only the newest MAX_HISTORY_TURNS are sent."""
    gemini.reset()
    turns = [EditTurn(f"step {n}", png_bytes((n, n, n), size=8)) for n in range(5)]
    source = turns[-1].image
    await images.edit(source, "image/png", "now make it snow", style="anime", history=turns)
    [request] = gemini.requests
    sent = request.turns
    assert [role for role, _, _ in sent] == ["user", "model"] * MAX_HISTORY_TURNS + ["user"]
    kept = turns[-MAX_HISTORY_TURNS:]
    for index, turn in enumerate(kept):
        (_, texts, _), (_, _, pictures) = sent[2 * index], sent[2 * index + 1]
        assert any(turn.instruction in t for t in texts)
        assert pictures == [turn.image]
    _, texts, pictures = sent[-1]
    assert pictures == [source]
    assert any("now make it snow" in t for t in texts)
    assert not any("step 0" in t for t in request.texts)


async def test_an_edit_without_history_is_one_turn(gemini, images):
    """No history: the request is a single user turn, as before."""
    gemini.reset()
    await images.edit(png_bytes(), "image/png", "smile", style="realistic")
    assert [role for role, _, _ in gemini.requests[0].turns] == ["user"]


async def test_the_offline_generator_takes_the_history_too():
    """The placeholder edit accepts the branch (it draws on the source, which shows it)."""
    result = await OfflineImageProvider().edit(
        png_bytes(),
        "image/png",
        "add a hat",
        style="cartoon",
        history=[EditTurn("add a scarf", png_bytes((1, 2, 3)))],
    )
    assert result.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("content", "text", "theme"),
    [
        (f"<@{BOT_ID}> add a red scarf", "add a red scarf", None),
        (f"<@!{BOT_ID}>   #winter make it   snow", "make it snow", "winter"),
        ("make it snow #Hiver please", "make it snow please", "Hiver"),
        ("post it in <#987654321> please", "post it in <#987654321> please", None),
        ("issue#12 stays", "issue#12 stays", None),
        (f"<@{BOT_ID}>", "", None),
    ],
)
def test_reading_an_instruction(content, text, theme):
    """The bot's mention goes, the first #word is the theme; a channel mention is not one."""
    got = read_instruction(content, BOT_ID)
    assert (got.text, got.theme) == (text, theme)


async def test_a_members_edits_take_turns_in_arrival_order():
    """One edit at a time per conversation and member, the others in order with their
    position; another member, or another conversation, does not wait."""
    turns = ConversationTurns()
    order: list[str] = []
    positions: dict[str, list[int]] = {}
    gate = asyncio.Event()

    async def edit(conversation: str, user: str, name: str) -> None:
        async def told(position: int) -> None:
            positions.setdefault(name, []).append(position)

        async with turns.turn(conversation, user, told):
            order.append(name)
            await gate.wait()

    first = asyncio.create_task(edit("thread", "ann", "a1"))
    await asyncio.sleep(0)
    later = [asyncio.create_task(edit("thread", "ann", f"a{n}")) for n in (2, 3)]
    others = [
        asyncio.create_task(edit("thread", "bob", "b1")),
        asyncio.create_task(edit("dm", "ann", "d1")),
    ]
    await asyncio.sleep(0.01)
    assert order == ["a1", "b1", "d1"]
    assert turns.waiting("thread", "ann") == 2
    assert positions == {"a2": [1], "a3": [2]}
    gate.set()
    await asyncio.gather(first, *later, *others)
    assert order == ["a1", "b1", "d1", "a2", "a3"]
    assert turns.waiting("thread", "ann") == 0


async def test_a_waiting_turn_that_is_cancelled_leaves_the_line():
    """Cancelled while waiting, an edit leaves the line; the next one moves up."""
    turns = ConversationTurns()
    gate = asyncio.Event()
    ran: list[str] = []

    async def edit(name: str) -> None:
        async with turns.turn("thread", "ann"):
            ran.append(name)
            await gate.wait()

    first = asyncio.create_task(edit("one"))
    await asyncio.sleep(0)
    second = asyncio.create_task(edit("two"))
    third = asyncio.create_task(edit("three"))
    await asyncio.sleep(0.01)
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    assert turns.waiting("thread", "ann") == 1
    gate.set()
    await asyncio.gather(first, third)
    assert ran == ["one", "three"]


def test_a_refusal_is_told_once_until_it_expires():
    """The same refusal for the same member and conversation is news once, until its time."""
    refusals = Refusals()
    soon = datetime.now(UTC) + timedelta(hours=1)
    key = (1, "user", "error.quota_exceeded")
    assert refusals.first(key, soon)
    assert not refusals.first(key, soon)
    assert refusals.first((2, "user", "error.quota_exceeded"), soon)
    expired = (3, "user", "error.account_restricted")
    assert refusals.first(expired, datetime.now(UTC) - timedelta(seconds=1))
    assert refusals.first(expired, soon)
