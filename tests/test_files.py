"""Attachments the bot sends from bytes it holds: sent whole, without a copy of the bytes."""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Callable

import aiohttp
import discord
from aiohttp import payload as aiohttp_payload

from bot.ui.files import file_of

SIZE = 4 * 1024 * 1024


class _Collect:
    """An aiohttp stream writer that keeps what is written."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.chunks.append(bytes(chunk))

    async def write_eof(self, chunk: bytes = b"") -> None:
        self.chunks.append(chunk)

    async def drain(self) -> None:
        return None

    def enable_compression(self, *args: object, **kwargs: object) -> None:
        return None

    def enable_chunking(self) -> None:
        return None

    async def write_headers(self, *args: object) -> None:
        return None

    def send_headers(self, *args: object) -> None:
        return None

    def set_eof(self) -> None:
        return None


def _multipart(file: discord.File) -> aiohttp_payload.Payload:
    """The request body discord.py builds for a message with this file (``files[0]``)."""
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", "{}", content_type="application/json")
    form.add_field(
        "files[0]", file.fp, filename=file.filename, content_type="application/octet-stream"
    )
    return form()


def _allocated_while(build: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        kept = build()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    return peak


def test_an_attachment_is_not_copied_before_it_is_sent():
    """Building the request of a message with a 4 MB file allocates far less than the file
    (io.BytesIO, for comparison, is copied whole when aiohttp asks it for its length)."""
    data = os.urandom(SIZE)
    held = _allocated_while(lambda: _multipart(file_of(data, "portrait.png")))
    copied = _allocated_while(
        lambda: _multipart(discord.File(io.BytesIO(data), filename="portrait.png"))
    )
    assert copied >= SIZE
    assert held < SIZE // 8


async def test_an_attachment_is_sent_whole_every_time_it_is_made():
    """The multipart body carries the bytes unchanged, and a new file from the same bytes
    (a retry) carries them again."""
    data = os.urandom(300_000)
    for _ in range(2):
        out = _Collect()
        await _multipart(file_of(data, "portrait.png")).write(out)
        body = b"".join(out.chunks)
        assert body.count(data) == 1
        assert b'filename="portrait.png"' in body
