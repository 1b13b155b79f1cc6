"""Validate requests against Discord's OpenAPI description (``discord-api-spec``).

The fake Discord server calls :meth:`OpenAPIValidator.validate` on every request the bot
sends; a non-empty result means real Discord would (very likely) answer 400.

Matching follows Discord's router: a literal segment (``@original``, ``@me``,
``bulk-delete``) beats a ``{parameter}`` segment at the same position. Bodies are checked
with ``Draft202012Validator`` against one ``referencing.Registry`` holding the whole
document; one validator per operation is compiled on first use and cached.

The spec and Discord's live behaviour differ in a few places where discord.py relies on the
live behaviour. Each allowance is a narrow patch of one schema in :func:`_apply_allowances`
with the reason beside it; nothing else is relaxed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["OpenAPIValidator", "find_spec"]

_SPEC_URI = "urn:discord-openapi"
_HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
_API_PREFIX = re.compile(r"^/api(?:/v\d+)?(?=/|$)")
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_MAX_MESSAGE = 300
_MAX_VIOLATIONS = 25
# Largest snowflake: ids are unsigned 64-bit integers.
_SNOWFLAKE_MAX = 2**64 - 1


def find_spec() -> Path | None:
    """The spec file: the pinned copy, else ``../shared``'s, else None (see tests.openapi_spec)."""
    from tests.openapi_spec import locate

    return locate().path


# --------------------------------------------------------------------------- formats


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    return bool(_URI_SCHEME.match(parts.scheme)) and bool(parts.netloc or parts.path)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    # RFC 3339 needs a date, a time and an offset; fromisoformat accepts "Z" on 3.11.
    if "T" not in value.upper():
        return False
    return datetime.fromisoformat(value).tzinfo is not None


def _format_checker() -> FormatChecker:
    """Check the two formats Discord itself rejects bad values for (embed urls, timestamps)."""
    checker = FormatChecker(formats=())
    checker.checks("uri")(_is_uri)
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    return checker


_FORMATS = _format_checker()


# --------------------------------------------------------------------------- allowances

_INT_SNOWFLAKE = {"type": "integer", "minimum": 0, "maximum": _SNOWFLAKE_MAX}


def _snowflake_or_int(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _INT_SNOWFLAKE]}


def _apply_allowances(spec: dict[str, Any]) -> None:
    """Patch the schemas where Discord accepts what discord.py sends but the spec says no.

    Each patch admits one extra form at one place; anything else still fails (see the tests).
    """
    schemas: dict[str, Any] = spec["components"]["schemas"]

    # 1. Attachment ids as integers. discord.py's ``File.to_dict(index)`` sends the upload's
    #    index as a JSON number ({"id": 0, "filename": ...}); Discord's own documentation uses
    #    exactly that form ("Uploading Files": ``"attachments": [{"id": 0, ...}]``).
    attachment = schemas["MessageAttachmentRequest"]["properties"]
    attachment["id"] = _snowflake_or_int(attachment["id"])

    # 2. Message references with integer ids. ``MessageReference.to_dict`` and
    #    ``Message.to_reference`` send ``message_id``/``channel_id``/``guild_id`` as Python
    #    ints; Discord parses snowflakes from numbers as well as strings.
    reference = schemas["MessageReferenceRequest"]["properties"]
    for key in ("message_id", "channel_id", "guild_id"):
        reference[key] = _snowflake_or_int(reference[key])

    # 3. ``allowed_mentions.users``/``roles`` as integer ids: ``AllowedMentions.to_dict``
    #    sends ``[user.id for user in users]`` (ints); same parsing rule as 2.
    mentions = schemas["MessageAllowedMentionsRequest"]["properties"]
    for key in ("users", "roles"):
        mentions[key]["items"] = _snowflake_or_int(mentions[key]["items"])

    # 4. Opening a DM: ``HTTPClient.start_private_message`` sends ``{"recipient_id": user_id}``
    #    with the id as a Python int; Discord parses it like any snowflake.
    private = schemas["CreatePrivateChannelRequest"]["properties"]
    private["recipient_id"] = _snowflake_or_int(private["recipient_id"])


# --------------------------------------------------------------------------- unions
#
# Discord's schemas are full of unions: ``oneOf`` lists of ``{"const": n}`` (every enum) and
# ``anyOf``/``oneOf`` lists of request types told apart by their ``type`` property
# (interaction callbacks, components, command options). Stock jsonschema evaluates every
# branch, building an error object for each miss, which made one callback cost ~20 ms. The
# two keywords below give the same verdicts faster: a union of constants is checked by set
# membership, and a tagged union only evaluates the branches whose tag admits the instance's
# ``type`` (a branch whose ``type`` enum excludes it fails anyway). Anything else, and any
# instance without a usable ``type``, goes through the ordinary all-branches evaluation.

_Plan = tuple[str, Any]  # ("const", {value: count}) | ("tagged", {tag: [indices]}) | ("none", _)
_ANNOTATIONS = {"const", "title", "description"}


def _scalar(value: object) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


class _UnionPlanner:
    """Precompute, per union list, how to pick the branches worth evaluating."""

    def __init__(self, lookup: Any) -> None:
        self._lookup = lookup
        self._plans: dict[int, tuple[list[Any], _Plan]] = {}

    def plan(self, branches: list[Any]) -> _Plan:
        cached = self._plans.get(id(branches))
        if cached is not None and cached[0] is branches:
            return cached[1]
        plan = self._build(branches)
        self._plans[id(branches)] = (branches, plan)  # keep the list alive: ids stay unique
        return plan

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = self._lookup(str(node["$ref"]).removeprefix(_SPEC_URI).removeprefix("#"))
        return node

    def _build(self, branches: list[Any]) -> _Plan:
        if all(
            isinstance(b, dict) and set(b) <= _ANNOTATIONS and _scalar(b.get("const"))
            for b in branches
        ):
            counts: dict[Any, int] = {}
            for b in branches:
                counts[b["const"]] = counts.get(b["const"], 0) + 1
            return ("const", counts)
        tags: dict[Any, list[int]] = {}
        for index, branch in enumerate(branches):
            target = self._resolve(branch)
            tag = target.get("properties", {}).get("type") if isinstance(target, dict) else None
            if not isinstance(tag, dict):
                return ("none", None)
            values = tag.get("enum", [tag["const"]] if "const" in tag else None)
            if not values or not all(_scalar(v) for v in values):
                return ("none", None)
            for value in values:
                tags.setdefault(value, []).append(index)
        return ("tagged", tags)


def _union_keyword(kind: str, planner: _UnionPlanner) -> Any:
    def keyword(validator: Any, branches: list[Any], instance: Any, schema: Any) -> Any:
        plan_kind, table = planner.plan(branches)
        if plan_kind == "const":
            hits = table.get(instance, 0) if _scalar(instance) else 0
            if hits == 0:
                yield ValidationError(f"{instance!r} is not one of {sorted(table, key=str)}")
            elif hits > 1 and kind == "oneOf":
                yield ValidationError(f"{instance!r} matches more than one constant")
            return
        indices: list[int] = list(range(len(branches)))
        if plan_kind == "tagged" and isinstance(instance, dict):
            tag = instance.get("type")
            if _scalar(tag) and table.get(tag):
                indices = table[tag]
        errors: list[ValidationError] = []
        for position, index in enumerate(indices):
            found = list(validator.descend(instance, branches[index], schema_path=index))
            if found:
                errors.extend(found)
                continue
            if kind == "oneOf":
                others = [
                    i
                    for i in indices[position + 1 :]
                    if validator.evolve(schema=branches[i]).is_valid(instance)
                ]
                if others:
                    yield ValidationError(
                        f"valid under more than one alternative (#{index} and #{others})"
                    )
            return
        yield ValidationError("not valid under any of the given schemas", context=errors)

    return keyword


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class _Template:
    path: str
    literals: tuple[str | None, ...]  # None where the segment is a {parameter}
    names: tuple[str | None, ...]  # parameter name where the segment is one

    @property
    def specificity(self) -> tuple[bool, ...]:
        """Literal segments win, the leftmost first (Discord's router does the same)."""
        return tuple(lit is not None for lit in self.literals)


@dataclass
class _Operation:
    label: str  # "POST /channels/{channel_id}/messages"
    body_pointer: str | None
    body_required: bool
    path_params: dict[str, str]  # name -> pointer of its schema
    query_params: dict[str, tuple[str, bool]]  # name -> (pointer of schema, required)
    _body: Any = field(default=None, repr=False)  # compiled validator, on first use
    _params: dict[str, Any] = field(default_factory=dict, repr=False)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _split(path: str) -> list[str]:
    return [unquote(seg) for seg in path.strip("/").split("/")]


# --------------------------------------------------------------------------- validator


class OpenAPIValidator:
    """Validate Discord REST requests against the OpenAPI document at ``spec_path``."""

    def __init__(self, spec_path: Path) -> None:
        spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
        _apply_allowances(spec)
        _inline_refs(spec)
        self._spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
        planner = _UnionPlanner(self._lookup)
        self._validator_class: Any = extend(
            Draft202012Validator,
            {"anyOf": _union_keyword("anyOf", planner), "oneOf": _union_keyword("oneOf", planner)},
        )
        self._templates: dict[int, list[_Template]] = {}
        self._operations: dict[tuple[str, str], _Operation] = {}
        for template_path, item in spec["paths"].items():
            segments = _split(template_path)
            literals = tuple(None if _is_param(s) else s for s in segments)
            names = tuple(s[1:-1] if _is_param(s) else None for s in segments)
            template = _Template(template_path, literals, names)
            self._templates.setdefault(len(segments), []).append(template)
            for method in _HTTP_METHODS:
                if method in item:
                    self._operations[(template_path, method)] = self._operation(
                        template_path, method, item
                    )

    # ------------------------------------------------------------------ public

    def validate(
        self,
        method: str,
        path: str,
        body: object | None,
        *,
        query: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Return human-readable violations of the request; an empty list means valid."""
        method_lc = method.lower()
        raw_path, _, raw_query = path.partition("?")
        if query is None and raw_query:
            query = dict(parse_qsl(raw_query, keep_blank_values=True))
        route = _API_PREFIX.sub("", raw_path) or "/"
        match = self._match(route)
        if match is None:
            return [f"{method.upper()} {route}: no such path in Discord's API"]
        template, values = match
        operation = self._operations.get((template.path, method_lc))
        if operation is None:
            return [f"{method.upper()} {template.path}: method not allowed on this path"]
        violations: list[str] = []
        for name, value in values.items():
            pointer = operation.path_params.get(name)
            if pointer is not None:
                violations.extend(self._check_param(operation, "path", name, value, pointer))
        violations.extend(self._check_query(operation, query or {}))
        violations.extend(self._check_body(operation, body))
        return violations

    # ------------------------------------------------------------------ building

    def _operation(self, template_path: str, method: str, item: dict[str, Any]) -> _Operation:
        item_pointer = f"/paths/{_escape(template_path)}"
        op_pointer = f"{item_pointer}/{method}"
        op = item[method]
        path_params: dict[str, str] = {}
        query_params: dict[str, tuple[str, bool]] = {}
        sources = [
            (item.get("parameters", []), item_pointer),
            (op.get("parameters", []), op_pointer),
        ]
        for params, base in sources:
            for index, declared in enumerate(params):
                param_pointer = f"{base}/parameters/{index}"
                param = declared
                if "$ref" in declared:  # shared parameter object
                    param_pointer = declared["$ref"].removeprefix("#")
                    param = self._lookup(param_pointer)
                schema_pointer = f"{param_pointer}/schema"
                if param["in"] == "path":
                    path_params[param["name"]] = schema_pointer
                elif param["in"] == "query":
                    query_params[param["name"]] = (schema_pointer, bool(param.get("required")))
        body_pointer: str | None = None
        body_required = False
        request_body = op.get("requestBody")
        if request_body is not None:
            body_required = bool(request_body.get("required"))
            content = request_body.get("content", {})
            base = f"{op_pointer}/requestBody/content"
            if "application/json" in content:
                body_pointer = f"{base}/{_escape('application/json')}/schema"
            elif "multipart/form-data" in content:
                body_pointer = f"{base}/{_escape('multipart/form-data')}/schema"
        return _Operation(
            label=f"{method.upper()} {template_path}",
            body_pointer=body_pointer,
            body_required=body_required,
            path_params=path_params,
            query_params=query_params,
        )

    def _lookup(self, pointer: str) -> Any:
        node: Any = self._spec
        for raw in pointer.lstrip("/").split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def _compile(self, pointer: str) -> Any:
        return self._validator_class(
            {"$ref": f"{_SPEC_URI}#{pointer}"}, registry=self._registry, format_checker=_FORMATS
        )

    # ------------------------------------------------------------------ matching

    def _match(self, route: str) -> tuple[_Template, dict[str, str]] | None:
        segments = _split(route)
        best: _Template | None = None
        for template in self._templates.get(len(segments), ()):
            fits = all(lit is None or lit == seg for lit, seg in zip(template.literals, segments))
            if fits and (best is None or template.specificity > best.specificity):
                best = template
        if best is None:
            return None
        values = {n: s for n, s in zip(best.names, segments) if n is not None}
        return best, values

    # ------------------------------------------------------------------ checks

    def _check_param(
        self, operation: _Operation, where: str, name: str, value: object, pointer: str
    ) -> list[str]:
        validator = operation._params.get(pointer)
        if validator is None:
            validator = operation._params[pointer] = self._compile(pointer)
        return [
            f"{operation.label}: {line}"
            for error in validator.iter_errors(value)
            for line in _describe(error, f"{where}.{name}")
        ]

    def _check_query(self, operation: _Operation, query: Mapping[str, str]) -> list[str]:
        violations: list[str] = []
        for name, value in query.items():
            spec = operation.query_params.get(name)
            if spec is None:
                violations.append(f"{operation.label}: query.{name}: unknown query parameter")
                continue
            pointer, _ = spec
            coerced = _coerce(value, _types(self._lookup(pointer), self._lookup))
            violations.extend(self._check_param(operation, "query", name, coerced, pointer))
        for name, (_, required) in operation.query_params.items():
            if required and name not in query:
                violations.append(f"{operation.label}: query.{name}: required parameter missing")
        return violations

    def _check_body(self, operation: _Operation, body: object | None) -> list[str]:
        if operation.body_pointer is None:
            if body is None or body == {}:
                return []
            return [f"{operation.label}: body: this operation takes no request body"]
        if body is None:
            if operation.body_required:
                return [f"{operation.label}: body: a request body is required"]
            return []
        if operation._body is None:
            operation._body = self._compile(operation.body_pointer)
        lines = [
            line
            for error in operation._body.iter_errors(body)
            if not _is_missing_file_part(error)
            for line in _describe(error, "body")
        ]
        violations = [f"{operation.label}: {line}" for line in lines[:_MAX_VIOLATIONS]]
        if len(lines) > _MAX_VIOLATIONS:
            violations.append(f"{operation.label}: ... {len(lines) - _MAX_VIOLATIONS} more")
        return violations


# --------------------------------------------------------------------------- helpers


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _inline_refs(spec: dict[str, Any]) -> None:
    """Replace every plain ``{"$ref": "#/..."}`` node by the object it names, in place.

    The document becomes a graph whose shared nodes are the referenced schemas themselves
    (cycles stay cycles), so validation follows Python references instead of resolving a
    JSON pointer through ``referencing`` on every visit: about a quarter of the cost.
    """

    def target(ref: str) -> Any:
        node: Any = spec
        for raw in ref.removeprefix("#/").split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def plain_ref(node: Any) -> bool:
        return (
            isinstance(node, dict)
            and len(node) == 1
            and isinstance(node.get("$ref"), str)
            and node["$ref"].startswith("#/")
        )

    stack: list[Any] = [spec]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        entries = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, value in entries:
            resolved = value
            while plain_ref(resolved):
                resolved = target(resolved["$ref"])
            if resolved is not value:
                node[key] = resolved
            if isinstance(resolved, dict | list):
                stack.append(resolved)


def _is_missing_file_part(error: ValidationError) -> bool:
    """A multipart schema requiring a file part: the parsed payload_json never has those."""
    if error.validator != "required" or not isinstance(error.instance, dict):
        return False
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    missing = [name for name in error.validator_value if name not in error.instance]
    return bool(missing) and all(_is_binary(props.get(name)) for name in missing)


def _is_binary(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if schema.get("contentEncoding") == "binary" or schema.get("format") == "binary":
        return True
    items = schema.get("items")
    return isinstance(items, dict) and _is_binary(items)


def _types(schema: Any, lookup: Any) -> set[str]:
    """The JSON types a (possibly $ref'd / combined) parameter schema admits."""
    if not isinstance(schema, dict):
        return set()
    if "$ref" in schema:
        return _types(lookup(schema["$ref"].removeprefix("#")), lookup)
    found: set[str] = set()
    kind = schema.get("type")
    if isinstance(kind, str):
        found.add(kind)
    elif isinstance(kind, list):
        found.update(kind)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()):
            found |= _types(sub, lookup)
    return found


_TRUE = {"true", "True", "1"}
_FALSE = {"false", "False", "0"}


def _coerce(value: str, types: set[str]) -> object:
    """Turn a query string value into the JSON value Discord would parse it as."""
    if "boolean" in types:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    if "integer" in types:
        try:
            return int(value)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors worth reporting under an anyOf/oneOf failure (itself if it is a leaf).

    When a single alternative survives (the others were rejected on their tag), all its
    errors are reported; otherwise jsonschema's ``best_match`` picks the likeliest one.
    """
    if not error.context:
        return [error]
    branches = _surviving_branches(error)
    if not branches:
        return [_unknown_tag(error)]
    if len(branches) == 1:
        return [leaf for sub in next(iter(branches.values())) for leaf in _leaves(sub)]
    chosen = best_match(e for errs in branches.values() for e in errs)
    return _leaves(chosen) if chosen is not None else [error]


def _surviving_branches(error: ValidationError) -> dict[object, list[ValidationError]]:
    """Group an anyOf/oneOf's errors by alternative, dropping those rejected on their tag.

    A union of request types is tagged by ``type`` (interaction callbacks, options,
    components); an alternative whose tag does not match says nothing useful about the body.
    The ``{"type": "null"}`` alternative of a nullable object is dropped the same way.
    """
    by_branch: dict[object, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    kept = {
        branch: errors
        for branch, errors in by_branch.items()
        if not any(_is_tag_mismatch(e, error) for e in errors)
    }
    return kept if kept or not _tag_values(error) else {}


def _tag_values(error: ValidationError) -> list[Any]:
    """The ``type`` tags the alternatives of a failed union admit (empty if untagged)."""
    values: list[Any] = []
    for sub in error.context or ():
        rel = list(sub.absolute_path)[len(error.absolute_path) :]
        if rel == ["type"] and sub.validator == "enum":
            values.extend(v for v in sub.validator_value if v not in values)
    return sorted(values, key=lambda v: (isinstance(v, str), v))


def _unknown_tag(error: ValidationError) -> ValidationError:
    """One clear error when no alternative of a tagged union accepts the ``type``."""
    instance = error.instance.get("type") if isinstance(error.instance, dict) else None
    return ValidationError(
        f"{instance!r} is not one of the accepted types {_tag_values(error)}",
        validator="enum",
        path=[*error.absolute_path, "type"],
    )


def _is_tag_mismatch(sub: ValidationError, parent: ValidationError) -> bool:
    rel = list(sub.absolute_path)[len(parent.absolute_path) :]
    if sub.validator == "type" and sub.validator_value == "null" and not rel:
        return True
    if rel == ["type"] and sub.validator in {"enum", "const"}:
        return True
    # our const-union keyword reports a type tag mismatch as oneOf at ["type"]
    return rel == ["type"] and not sub.context and sub.validator in {"oneOf", "anyOf"}


_SIZE_RULES = {
    "maxLength": ("characters", "maxLength"),
    "minLength": ("characters", "minLength"),
    "maxItems": ("items", "maxItems"),
    "minItems": ("items", "minItems"),
}


def _message(error: ValidationError) -> str:
    """jsonschema's message, with sizes instead of a repr of a (long) value."""
    rule = _SIZE_RULES.get(str(error.validator))
    if rule is not None and isinstance(error.instance, str | list):
        unit, keyword = rule
        return f"{len(error.instance)} {unit}, {keyword} {error.validator_value}"
    return str(error.message)


def _describe(error: ValidationError, root: str) -> list[str]:
    """``root.path.to.value: message`` for each relevant leaf of ``error``."""
    lines = []
    for leaf in _leaves(error):
        where = root + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in leaf.absolute_path
        )
        message = f"{where}: {_message(leaf)}"
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        lines.append(message)
    return lines
