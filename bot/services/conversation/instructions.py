"""A member's message read as an edit instruction: the bot's mention taken out, and a
``#word`` picking the theme."""

from __future__ import annotations

import re
from dataclasses import dataclass

THEME_TAG = re.compile(r"(?<!\S)#([^\s#<>@]{1,50})")
"""``#winter``: at the start or after a space (``<#123>`` is a channel mention, not a tag)."""


@dataclass(frozen=True)
class Instruction:
    """What to change, and the theme the member named (None: the conversation's)."""

    text: str
    theme: str | None


def read_instruction(content: str, bot_id: int) -> Instruction:
    """The instruction in ``content``: mentions of the bot removed, the first ``#word`` taken
    as the theme (and removed), whitespace collapsed."""
    text = re.sub(rf"<@!?{bot_id}>", " ", content)
    theme: str | None = None
    match = THEME_TAG.search(text)
    if match is not None:
        theme = match.group(1)
        text = text[: match.start()] + " " + text[match.end() :]
    return Instruction(" ".join(text.split()), theme)
