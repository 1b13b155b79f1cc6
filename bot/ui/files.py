"""Attachments: bytes the bot already holds (a portrait, a card, an export) sent as a file."""

from __future__ import annotations

import discord

from bot.storage.held import HeldBytes


def file_of(data: bytes, filename: str) -> discord.File:
    """``data`` as a file named ``filename``, sent without a copy of it (a new one each time:
    a discord.File is sent once)."""
    return discord.File(HeldBytes(data), filename=filename)
