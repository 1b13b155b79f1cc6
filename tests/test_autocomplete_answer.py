"""An autocomplete callback answers itself: Discord refusing a late answer (10062) is a debug
line, not discord.py's "Ignoring exception in autocomplete" error with a traceback."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.interactions.autocomplete import answers_itself


class _Response:
    def __init__(self, refuse: discord.HTTPException | None, done: bool = False) -> None:
        self.refuse = refuse
        self.sent: list[list[app_commands.Choice[str]]] = []
        self.done = done

    def is_done(self) -> bool:
        return self.done

    async def autocomplete(self, choices: list[app_commands.Choice[str]]) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append(choices)
        self.done = True


def _refusal(status: int, code: int, message: str) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason=message)
    kind = discord.NotFound if status == 404 else discord.HTTPException
    return kind(response, {"code": code, "message": message})  # type: ignore[arg-type]


@answers_itself
async def _knights(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=f"{current} knight", value="1")]


async def test_choices_are_sent_by_the_callback_itself() -> None:
    response = _Response(None)
    interaction: Any = SimpleNamespace(id=1, response=response)
    choices = await _knights(interaction, "grail")
    assert response.sent == [choices]
    assert choices[0].name == "grail knight"
    assert response.is_done()  # discord.py sends nothing more


async def test_a_late_answer_refused_by_discord_is_a_debug_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for status, code in ((404, 10062), (400, 40060)):
        interaction: Any = SimpleNamespace(id=2, response=_Response(_refusal(status, code, "x")))
        with caplog.at_level(logging.DEBUG, logger="bot.interactions.autocomplete"):
            await _knights(interaction, "late")
        assert any("came too late" in r.getMessage() for r in caplog.records)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        caplog.clear()


async def test_other_failures_still_reach_discord_py() -> None:
    interaction: Any = SimpleNamespace(id=3, response=_Response(_refusal(500, 0, "boom")))
    with pytest.raises(discord.HTTPException):
        await _knights(interaction, "x")


async def test_an_answered_interaction_is_not_answered_twice() -> None:
    response = _Response(None, done=True)  # the blocked member got no choices already
    interaction: Any = SimpleNamespace(id=4, response=response)
    await _knights(interaction, "x")
    assert response.sent == []
