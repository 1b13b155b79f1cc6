"""A request (a frozen dataclass of plain fields, maybe one nested dataclass and one bytes
field) as JSON for the job row, and back; the bytes field (a reference picture) is kept beside
it, not in the JSON."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def _dataclass_type(hint: Any) -> type[Any] | None:
    """The dataclass a field's type names (``X`` or ``X | None``), if any."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg) and isinstance(arg, type):
                return arg
    return None


def encode(request: object) -> tuple[dict[str, Any], bytes | None]:
    """(JSON fields, the bytes field's value)."""
    if not dataclasses.is_dataclass(request) or isinstance(request, type):
        msg = "a request is a dataclass instance"
        raise TypeError(msg)
    data: dict[str, Any] = {}
    blob: bytes | None = None
    for field in dataclasses.fields(request):
        value = getattr(request, field.name)
        if isinstance(value, bytes):
            blob = value
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        elif isinstance(value, tuple):
            value = list(value)
        data[field.name] = value
    return data, blob


def decode(cls: type[T], data: dict[str, Any], blob: bytes | None) -> T:
    """The request ``encode`` gave ``data`` and ``blob`` for."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        hint = hints[field.name]
        if field.name not in data:
            if hint is bytes or bytes in typing.get_args(hint):
                kwargs[field.name] = blob
            continue
        value = data[field.name]
        nested = _dataclass_type(hint)
        if nested is not None and isinstance(value, dict):
            value = nested(**value)
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)
