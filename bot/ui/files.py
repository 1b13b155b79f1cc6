"""Attachments: bytes the bot already holds (a portrait, a card, an export) sent as a file."""

from __future__ import annotations

import io

import discord


class _HeldBytes(io.BytesIO):
    """The bytes as a read-only file, without the copy io.BytesIO makes of them when asked
    for its buffer.

    io.BytesIO(data) shares ``data`` until its buffer is asked for; aiohttp asks (for the
    length) before it sends, so every portrait posted was copied whole (1.1 MB) and the copy
    lived as long as the request. The length is all that is asked, and here it comes from
    ``data`` itself."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._held = data

    def getbuffer(self) -> memoryview:
        return memoryview(self._held)


def file_of(data: bytes, filename: str) -> discord.File:
    """``data`` as a file named ``filename`` (a new one each time: a discord.File is sent
    once)."""
    return discord.File(_HeldBytes(data), filename=filename)
