"""How requests and errors pass through google-genai: the config handed to it, and the
retry hint read from its errors."""

from __future__ import annotations

import re
from typing import cast

from google.genai import errors as genai_errors
from google.genai import types

_RETRY_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def given_fields(config: types.GenerateContentConfig) -> types.GenerateContentConfigDict:
    """The fields the config sets, as a dict of the same objects. google-genai deep-copies a
    config object on every request (the response schema's ~20 nested Schema objects and every
    unset field of each: about a third of the SDK's CPU per text call), but builds a new one
    from a dict, which shares the nested objects it never changes."""
    return cast(
        types.GenerateContentConfigDict,
        {name: getattr(config, name) for name in config.model_fields_set},
    )


def retry_after(exc: genai_errors.APIError) -> float | None:
    """The server's retry hint: a Retry-After header, or google.rpc.RetryInfo.retryDelay."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is not None:
        raw = headers.get("Retry-After")
        if isinstance(raw, str):
            try:
                return max(0.0, float(raw))
            except ValueError:
                pass
    details = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
    for item in details.get("details", []) if isinstance(details, dict) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = _RETRY_DELAY.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
