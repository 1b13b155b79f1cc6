"""Bytes the bot already holds (a portrait, a card) handed to a client that wants a file."""

from __future__ import annotations

import io


class HeldBytes(io.BytesIO):
    """``data`` as a read-only file, without the copy io.BytesIO makes of it when asked for
    its buffer.

    io.BytesIO(data) shares ``data`` until its buffer is asked for. aiohttp asks (for the
    length) before it sends a file-like body, and botocore makes every S3 upload's bytes such
    a file, so each portrait sent to Discord or S3 was copied whole (1.1 MB) and the copy kept
    for the request. The length is all that is asked, and here it comes from ``data``."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._held = data

    def getbuffer(self) -> memoryview:
        return memoryview(self._held)
