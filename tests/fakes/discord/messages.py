"""Turning request bodies (JSON or multipart) into stored messages, the way Discord does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .state import FLAG_EPHEMERAL, FLAG_LOADING, SETTABLE_MESSAGE_FLAGS

if TYPE_CHECKING:
    from .server import FakeDiscord

_FILE_FIELD = re.compile(r"^files?\[(\d+)\]$|^file(\d*)$")


class DiscordHTTPError(Exception):
    """An error answered to the bot as ``{"code": N, "message": "..."}``."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


def invalid_form(problems: list[str]) -> DiscordHTTPError:
    errors = {
        f"_{i}": {"_errors": [{"code": "BASE_TYPE_INVALID", "message": p}]}
        for i, p in enumerate(problems)
    }
    return DiscordHTTPError(400, 50035, "Invalid Form Body", errors)


@dataclass
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes

    @property
    def index(self) -> int | None:
        match = _FILE_FIELD.match(self.field)
        if match is None:
            return None
        return int(match.group(1) or match.group(2) or 0)


def check_upload_sizes(fake: FakeDiscord, files: list[UploadedFile]) -> None:
    """Refuse a file over the upload limit (``fake.attachment_size_limit``, what interactions
    say in ``attachment_size_limit``) as Discord does: 413, code 40005."""
    limit = int(getattr(fake, "attachment_size_limit", 0) or 0)
    for upload in files:
        if limit and len(upload.data) > limit:
            fake.violations.append(
                f"upload: {upload.filename} is {len(upload.data)} bytes, limit {limit}"
            )
            raise DiscordHTTPError(413, 40005, "Request entity too large")


class MessageWriter:
    """Creates and edits stored messages from bot payloads."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def store_attachment(
        self,
        channel_id: str,
        filename: str,
        content_type: str,
        data: bytes,
        *,
        ephemeral: bool = False,
        description: str | None = None,
    ) -> dict[str, Any]:
        fake = self.fake
        att_id = fake.ids.next()
        url = f"{fake.base_url}/attachments/{channel_id}/{att_id}/{filename}"
        attachment: dict[str, Any] = {
            "id": att_id,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
        if description is not None:
            attachment["description"] = description
        if ephemeral:
            attachment["ephemeral"] = True
        fake.blobs[att_id] = (data, content_type, attachment)
        return attachment

    def create(
        self,
        channel_id: str,
        author: dict[str, Any],
        payload: dict[str, Any],
        files: list[UploadedFile],
        *,
        extra: dict[str, Any] | None = None,
        allow_ephemeral: bool = False,
        loading: bool = False,
    ) -> dict[str, Any]:
        """Validate and store a new message; returns the stored dict (live)."""
        fake = self.fake
        if not loading and not _has_body(payload, files):
            raise DiscordHTTPError(400, 50006, "Cannot send an empty message")
        message = fake.new_message(channel_id, author)
        if extra:
            message.update(extra)
        flags = int(payload.get("flags") or 0) & SETTABLE_MESSAGE_FLAGS
        if not allow_ephemeral:
            flags &= ~FLAG_EPHEMERAL
        message["flags"] = flags | (FLAG_LOADING if loading else 0)
        message["tts"] = bool(payload.get("tts", False))
        if payload.get("message_reference"):
            ref = dict(payload["message_reference"])
            ref.setdefault("channel_id", channel_id)
            message["message_reference"] = ref
            message["type"] = 19
        self._apply(message, payload, files, editing=False)
        fake.add_message(message)
        return message

    def edit(
        self, message: dict[str, Any], payload: dict[str, Any], files: list[UploadedFile]
    ) -> dict[str, Any]:
        if "flags" in payload and payload["flags"] is not None:
            keep = message["flags"] & (FLAG_EPHEMERAL | ~SETTABLE_MESSAGE_FLAGS)
            new = int(payload["flags"]) & SETTABLE_MESSAGE_FLAGS & ~FLAG_EPHEMERAL
            message["flags"] = keep | new
        message["flags"] &= ~FLAG_LOADING
        self._apply(message, payload, files, editing=True)
        message["edited_timestamp"] = self.fake.clock.iso()
        return message

    def _apply(
        self,
        message: dict[str, Any],
        payload: dict[str, Any],
        files: list[UploadedFile],
        *,
        editing: bool,
    ) -> None:
        for key in ("content", "embeds", "components", "poll"):
            if key in payload:
                value = payload[key]
                message[key] = ([] if key != "content" else "") if value is None else value
        ephemeral = bool(message["flags"] & FLAG_EPHEMERAL)
        message["attachments"] = self._attachments(message, payload, files, ephemeral)
        message["embeds"] = [self._embed(e, message) for e in message.get("embeds") or []]

    def _attachments(
        self,
        message: dict[str, Any],
        payload: dict[str, Any],
        files: list[UploadedFile],
        ephemeral: bool,
    ) -> list[dict[str, Any]]:
        channel_id = message["channel_id"]
        check_upload_sizes(self.fake, files)
        uploaded = {f.index: f for f in files if f.index is not None}
        current = {a["id"]: a for a in message["attachments"]}
        result: list[dict[str, Any]] = []
        if payload.get("attachments") is not None:
            for entry in payload["attachments"]:
                key = str(entry.get("id"))
                if key in current:
                    result.append(current[key])
                    continue
                upload = uploaded.pop(int(key), None) if key.isdigit() else None
                if upload is None:
                    raise invalid_form([f"attachments: unknown attachment id {key}"])
                result.append(
                    self.store_attachment(
                        channel_id,
                        entry.get("filename") or upload.filename,
                        upload.content_type,
                        upload.data,
                        ephemeral=ephemeral,
                        description=entry.get("description"),
                    )
                )
        else:
            result = list(message["attachments"])
        for upload in uploaded.values():
            result.append(
                self.store_attachment(
                    channel_id,
                    upload.filename,
                    upload.content_type,
                    upload.data,
                    ephemeral=ephemeral,
                )
            )
        return result

    def _embed(self, embed: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
        embed = dict(embed)
        embed.setdefault("type", "rich")
        by_name = {a["filename"]: a for a in message["attachments"]}
        for key in ("image", "thumbnail"):
            part = embed.get(key)
            if not isinstance(part, dict):
                continue
            url = part.get("url")
            if isinstance(url, str) and url.startswith("attachment://"):
                attachment = by_name.get(url.removeprefix("attachment://"))
                if attachment is None:
                    self.fake.violations.append(
                        f"message {message['id']}: embed {key} refers to {url} "
                        "but no such file is attached"
                    )
                    continue
                embed[key] = {**part, "url": attachment["url"], "proxy_url": attachment["url"]}
        return embed


def _has_body(payload: dict[str, Any], files: list[UploadedFile]) -> bool:
    return bool(
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or files
    )
