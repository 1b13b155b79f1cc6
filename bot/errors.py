"""Domain errors: each carries a translation key and parameters for its user-facing text.

They are raised by services and providers and turned into ephemeral, localised replies in
exactly one place (the command tree's ``on_error``). ``str(error)`` is the English text, so a
log line or a test reads the same thing a user would.
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from typing import Any

_ENGLISH: dict[str, str] = {
    "error.not_found": "I couldn't find that {what}.",
    "error.generation_released": (
        "The bot is restarting before your image was finished. Nothing more is charged: it "
        "will be finished and posted here once the bot is back."
    ),
    "error.handed_to_worker": "Your generation is queued; the result will be posted here.",
    "error.not_owner": "Only its owner can do that.",
    "error.quota_exceeded": (
        "You have used all {quota} generations for today. Your quota resets {reset}."
    ),
    "error.account_restricted": "Your account is {status}, so you can't generate images.",
    "error.invalid_input": "{reason}",
    "error.conflict": "{reason}",
    "error.generation.blocked": (
        "The request was blocked by the content filter. Try describing it differently."
    ),
    "error.generation.safety": (
        "The image was withheld by the safety filter. Try a different description."
    ),
    "error.generation.no_image": "The image model returned no image. Please try again.",
    "error.generation.rate_limited": (
        "The image service is busy right now. Please try again in a minute."
    ),
    "error.generation.unavailable": (
        "The image service is unavailable right now. Please try again later."
    ),
    "error.generation.timeout": "The image service took too long to answer. Please try again.",
    "error.generation.invalid_response": (
        "The image service gave an answer I couldn't use. Please try again."
    ),
    "error.storage": "I couldn't save the image. Please try again.",
    "error.internal": "Something went wrong on my side. Please try again.",
    "error.shutting_down": "The bot is restarting. Please try again in a minute.",
    "error.cancelled": "Cancelled. The generation unit is back in your quota.",
    "error.database_unavailable": (
        "The database is unavailable right now, so nothing was done and nothing was charged. "
        "Please try again in a minute."
    ),
    "error.database_refunded": (
        "The database was unavailable, so your image could not be finished. Your generation "
        "was refunded; please try again."
    ),
    "error.database_unavailable_after_generation": (
        "Your image was made and saved (that used one generation), but the database became "
        "unavailable before I could finish here. Nothing else was charged."
    ),
    "error.database_refund_pending": (
        "The database is unavailable, so your image could not be finished. Your generation "
        "will be refunded as soon as the database is back."
    ),
    "mod.not_moderator": (
        "Only moderators (Manage Messages, or the server's moderator role) can do that."
    ),
    "mod.setup_refused": "Only members with the Manage Server permission can set up moderation.",
    "mod.platform_scope": (
        "Only platform moderators can act on the whole platform (`scope:platform`, suspended "
        "or banned). Nothing was changed."
    ),
    "guild.blocked": (
        "This server's moderators have blocked your use of the bot here. It still works in "
        "other servers and in direct messages; /account and /help work here too."
    ),
}


def _pattern(template: str) -> re.Pattern[str] | None:
    """A regex that reads an English text back into its template's parameters; None for a
    template that is only parameters (it would match any text)."""
    parts: list[str] = []
    literal = False
    for text, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(text))
        literal = literal or bool(text.strip())
        if field is not None:
            parts.append(f"(?P<{field}>.+?)")
    return re.compile("".join(parts), re.DOTALL) if literal else None


_READERS = [(key, pattern) for key, template in _ENGLISH.items() if (pattern := _pattern(template))]


def read_english(text: str) -> tuple[str, dict[str, str]] | None:
    """The key and parameters of an error's English text (:meth:`DomainError.english`), as a
    generation's ``error_message`` keeps it; None for a text no error has."""
    for key, pattern in _READERS:
        if (found := pattern.fullmatch(text)) is not None:
            return key, found.groupdict()
    return None


class DomainError(Exception):
    """An error whose text is safe to show to a Discord user."""

    key: str = "error.internal"

    def __init__(self, key: str | None = None, /, **params: Any) -> None:
        if key is not None:
            self.key = key
        self.params: dict[str, Any] = params
        super().__init__(self.english())

    def english(self) -> str:
        template = _ENGLISH.get(self.key, _ENGLISH["error.internal"])
        try:
            return template.format(**self.params)
        except (KeyError, IndexError):
            return template


class NotFoundError(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    key = "error.not_found"

    def __init__(self, what: str = "item") -> None:
        super().__init__(what=what)


class NotOwnerError(DomainError):
    """The caller does not own the thing they tried to change."""

    key = "error.not_owner"

    def __init__(self) -> None:
        super().__init__()


class QuotaExceededError(DomainError):
    """No generation units are left today."""

    key = "error.quota_exceeded"

    def __init__(self, quota: int, resets_at: datetime) -> None:
        self.resets_at = resets_at
        # Discord renders <t:…:R> as a relative time in the reader's own locale.
        super().__init__(quota=quota, reset=f"<t:{int(resets_at.timestamp())}:R>")


class AccountRestrictedError(DomainError):
    """The account is suspended or banned."""

    key = "error.account_restricted"

    def __init__(self, status: str) -> None:
        super().__init__(status=status)


class BlockedHereError(DomainError):
    """The member is blocked from using the bot in this guild (by its moderators)."""

    key = "guild.blocked"

    def __init__(self) -> None:
        super().__init__()


class InvalidInputError(DomainError):
    """The input was malformed; ``reason`` says how, in English, and ``reason_key`` localises it."""

    key = "error.invalid_input"

    def __init__(self, reason: str, reason_key: str | None = None, **params: Any) -> None:
        self.reason_key = reason_key
        super().__init__(reason=reason, **params)


class ConflictError(DomainError):
    """The change would clash with existing data (a duplicate name, say)."""

    key = "error.conflict"

    def __init__(self, reason: str, reason_key: str | None = None, **params: Any) -> None:
        self.reason_key = reason_key
        super().__init__(reason=reason, **params)


class GenerationError(DomainError):
    """A provider failed; ``kind`` is one of blocked, safety, no_image, rate_limited,
    unavailable, timeout, invalid_response. ``retryable`` tells the retry loop to try again."""

    def __init__(self, kind: str, *, retryable: bool = False, detail: str = "") -> None:
        self.kind = kind
        self.retryable = retryable
        self.detail = detail
        super().__init__(f"error.generation.{kind}")


class StorageError(DomainError):
    """Saving or reading an image failed."""

    key = "error.storage"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__()


class GenerationCancelled(DomainError):
    """The member cancelled the generation: it was failed ("cancelled") and refunded."""

    key = "error.cancelled"

    def __init__(self) -> None:
        super().__init__()


class GenerationReleased(DomainError):
    """The process stopped before the generation finished: its job went back to the queue, and
    a worker (this one after a restart, or another) finishes and posts it; nothing more is
    charged."""

    key = "error.generation_released"

    def __init__(self) -> None:
        super().__init__()


class HandedToWorker(DomainError):
    """The generation was accepted and queued; a worker in another process makes and posts it.
    Nothing more is said here."""

    key = "error.handed_to_worker"

    def __init__(self) -> None:
        super().__init__()


class DatabaseUnavailableError(DomainError):
    """The database could not be reached while a generation ran; the key says what became of
    the member's unit: ``error.database_refunded`` (given back once the database answered) or
    ``error.database_refund_pending`` (the stale sweep will give it back)."""

    key = "error.database_refunded"


class GenerationSavedError(DomainError):
    """The generation's result was saved (an earlier try of its write committed, though the
    database went away before saying so), but what the member asked for cannot be finished
    here; their unit was rightly used, and nothing is undone."""

    key = "error.database_unavailable_after_generation"
