"""Defensive bridge to the OpenAPI validator and the message-limit checks.

Both live in sibling modules written separately (``openapi.py``, ``limits.py``); when one is
missing, or one of its functions is, that check is skipped rather than failing the fake.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


def _sibling(name: str) -> Any | None:
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError:
        return None


def default_spec() -> Path | None:
    """The OpenAPI spec path from ``openapi.find_spec()``, or None when unavailable."""
    module = _sibling("openapi")
    finder = getattr(module, "find_spec", None)
    if finder is None:
        return None
    try:
        path = finder()
    except Exception:  # a broken finder must not take the fake down
        _log.exception("openapi.find_spec failed")
        return None
    return Path(path) if path else None


class Checks:
    """Runs every available check and returns violation strings."""

    def __init__(self, spec_path: Path | None) -> None:
        self._openapi: Any | None = None
        module = _sibling("openapi")
        if spec_path is not None and module is not None and hasattr(module, "OpenAPIValidator"):
            self._openapi = module.OpenAPIValidator(spec_path)
        self._limits = _sibling("limits")

    @property
    def has_openapi(self) -> bool:
        return self._openapi is not None

    def openapi(
        self, method: str, path: str, body: object | None, query: dict[str, str]
    ) -> list[str]:
        if self._openapi is None:
            return []
        return [str(v) for v in self._openapi.validate(method, path, body, query=query)]

    def _limit(self, name: str, arg: object) -> list[str]:
        func: Callable[[Any], list[str]] | None = getattr(self._limits, name, None)
        if func is None:
            return []
        return [str(v) for v in func(arg)]

    def message(self, payload: dict[str, Any]) -> list[str]:
        return self._limit("check_message_payload", payload)

    def silent_mentions(self, payload: dict[str, Any]) -> list[str]:
        return self._limit("check_allowed_mentions_none", payload)

    def modal(self, payload: dict[str, Any]) -> list[str]:
        return self._limit("check_modal_payload", payload)

    def autocomplete(self, choices: list[Any]) -> list[str]:
        return self._limit("check_autocomplete_choices", choices)

    def command(self, cmd: dict[str, Any]) -> list[str]:
        return self._limit("check_command_payload", cmd)
