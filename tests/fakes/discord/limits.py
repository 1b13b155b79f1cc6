"""Discord's documented limits on what a bot sends, checked independently of the OpenAPI spec.

Each function takes a request payload (already JSON-decoded; for an interaction callback,
its ``data``) and returns human-readable violations, each naming the offending field and the
rule, e.g. ``"embeds[0].title: 257 characters, limit 256"``. An empty list means valid.

Sources: discord.com/developers/docs — Message (embed limits), Components (action rows,
buttons, selects, text inputs, labels), Interactions (modal and autocomplete callbacks),
Application Commands (naming, option and choice limits).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "check_allowed_mentions_none",
    "check_autocomplete_choices",
    "check_command_payload",
    "check_message_payload",
    "check_modal_payload",
]

# Message
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
# Components (classic action-row layout)
ACTION_ROWS_MAX = 5
BUTTONS_PER_ROW_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
SELECT_PLACEHOLDER_MAX = 150
SELECT_OPTION_TEXT_MAX = 100
SELECT_VALUES_MAX = 25
COMPONENTS_V2_MAX = 40
IS_COMPONENTS_V2 = 1 << 15
# Modal
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
TEXT_INPUT_LABEL_MAX = 45
TEXT_INPUT_LENGTH_MAX = 4000
TEXT_INPUT_PLACEHOLDER_MAX = 100
LABEL_DESCRIPTION_MAX = 100
# Autocomplete / command choices
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_VALUE_MAX = 100
# Commands
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
COMMAND_DESCRIPTION_MAX = 100
OPTIONS_MAX = 25
OPTION_STRING_LENGTH_MAX = 6000

ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SELECT_TYPES = {3, 5, 6, 7, 8}  # string, user, role, mentionable, channel
LABEL, TEXT_DISPLAY = 18, 10
BUTTON_LINK, BUTTON_PREMIUM = 5, 6
SUB_COMMAND, SUB_COMMAND_GROUP, OPT_STRING = 1, 2, 3
CHAT_INPUT = 1


def _length(value: object) -> int:
    return len(value) if isinstance(value, str) else 0


def _too_long(where: str, value: object, limit: int) -> list[str]:
    size = _length(value)
    return [f"{where}: {size} characters, limit {limit}"] if size > limit else []


def _text_between(where: str, value: object, low: int, high: int) -> list[str]:
    if not isinstance(value, str):
        return [f"{where}: missing (needs {low}..{high} characters)"]
    if not low <= len(value) <= high:
        return [f"{where}: {len(value)} characters, must be {low}..{high}"]
    return []


def _items(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


# --------------------------------------------------------------------------- messages


def check_message_payload(payload: Mapping[str, Any]) -> list[str]:
    """Content, embed and component limits of a message create/edit body."""
    problems = _too_long("content", payload.get("content"), CONTENT_MAX)
    problems += _check_embeds(_items(payload.get("embeds")))
    components = _items(payload.get("components"))
    if int(payload.get("flags") or 0) & IS_COMPONENTS_V2:
        problems += _check_components_v2(components)
    else:
        problems += _check_action_rows(components)
    return problems


def _check_embeds(embeds: list[Any]) -> list[str]:
    problems = []
    if len(embeds) > EMBEDS_MAX:
        problems.append(f"embeds: {len(embeds)} embeds, limit {EMBEDS_MAX}")
    total = 0
    for i, embed in enumerate(embeds):
        if not isinstance(embed, Mapping):
            continue
        at = f"embeds[{i}]"
        footer = embed.get("footer") or {}
        author = embed.get("author") or {}
        fields = _items(embed.get("fields"))
        problems += _too_long(f"{at}.title", embed.get("title"), EMBED_TITLE_MAX)
        problems += _too_long(f"{at}.description", embed.get("description"), EMBED_DESCRIPTION_MAX)
        problems += _too_long(f"{at}.footer.text", footer.get("text"), EMBED_FOOTER_MAX)
        problems += _too_long(f"{at}.author.name", author.get("name"), EMBED_AUTHOR_MAX)
        if len(fields) > EMBED_FIELDS_MAX:
            problems.append(f"{at}.fields: {len(fields)} fields, limit {EMBED_FIELDS_MAX}")
        total += sum(
            _length(v) for v in (embed.get("title"), embed.get("description"), footer.get("text"))
        )
        total += _length(author.get("name"))
        for j, fld in enumerate(fields):
            name, value = fld.get("name"), fld.get("value")
            problems += _text_between(f"{at}.fields[{j}].name", name, 1, EMBED_FIELD_NAME_MAX)
            problems += _text_between(f"{at}.fields[{j}].value", value, 1, EMBED_FIELD_VALUE_MAX)
            total += _length(name) + _length(value)
    if total > EMBED_TOTAL_MAX:
        problems.append(f"embeds: {total} characters in all embeds, limit {EMBED_TOTAL_MAX}")
    return problems


def _check_action_rows(rows: list[Any]) -> list[str]:
    problems = []
    if len(rows) > ACTION_ROWS_MAX:
        problems.append(f"components: {len(rows)} action rows, limit {ACTION_ROWS_MAX}")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        at = f"components[{i}]"
        if row.get("type") != ACTION_ROW:
            problems.append(f"{at}: top-level component must be an action row (type 1)")
            continue
        children = _items(row.get("components"))
        buttons = [c for c in children if c.get("type") == BUTTON]
        selects = [c for c in children if c.get("type") in SELECT_TYPES]
        if not children:
            problems.append(f"{at}: an action row needs 1..5 components")
        elif selects and len(children) > 1:
            problems.append(f"{at}: a select menu must be alone in its action row")
        elif len(buttons) > BUTTONS_PER_ROW_MAX:
            problems.append(f"{at}: {len(buttons)} buttons, limit {BUTTONS_PER_ROW_MAX} per row")
        for j, child in enumerate(children):
            where = f"{at}.components[{j}]"
            if child.get("type") == BUTTON:
                problems += _check_button(where, child, seen)
            elif child.get("type") in SELECT_TYPES:
                problems += _check_select(where, child, seen)
            else:
                problems.append(f"{where}: type {child.get('type')!r} not allowed in a row")
    return problems


def _check_custom_id(where: str, custom_id: object, seen: set[str]) -> list[str]:
    problems = _text_between(f"{where}.custom_id", custom_id, 1, CUSTOM_ID_MAX)
    if isinstance(custom_id, str):
        if custom_id in seen:
            problems.append(f"{where}.custom_id: {custom_id!r} is not unique in the message")
        seen.add(custom_id)
    return problems


def _check_button(where: str, button: Mapping[str, Any], seen: set[str]) -> list[str]:
    problems = _too_long(f"{where}.label", button.get("label"), BUTTON_LABEL_MAX)
    style = button.get("style")
    if style == BUTTON_LINK:
        if not button.get("url"):
            problems.append(f"{where}.url: a link button needs a url")
        if button.get("custom_id") is not None:
            problems.append(f"{where}.custom_id: a link button cannot have a custom_id")
    elif style == BUTTON_PREMIUM:
        if not button.get("sku_id"):
            problems.append(f"{where}.sku_id: a premium button needs a sku_id")
    else:
        problems += _check_custom_id(where, button.get("custom_id"), seen)
        if button.get("url") is not None:
            problems.append(f"{where}.url: only link buttons may have a url")
    if style != BUTTON_PREMIUM and not button.get("label") and not button.get("emoji"):
        problems.append(f"{where}: a button needs a label or an emoji")
    return problems


def _check_select(where: str, select: Mapping[str, Any], seen: set[str]) -> list[str]:
    problems = _check_custom_id(where, select.get("custom_id"), seen)
    problems += _too_long(f"{where}.placeholder", select.get("placeholder"), SELECT_PLACEHOLDER_MAX)
    low, high = select.get("min_values"), select.get("max_values")
    if low is not None and not 0 <= low <= SELECT_VALUES_MAX:
        problems.append(f"{where}.min_values: {low}, must be 0..{SELECT_VALUES_MAX}")
    if high is not None and not 1 <= high <= SELECT_VALUES_MAX:
        problems.append(f"{where}.max_values: {high}, must be 1..{SELECT_VALUES_MAX}")
    if select.get("type") == STRING_SELECT:
        options = _items(select.get("options"))
        if not 1 <= len(options) <= SELECT_OPTIONS_MAX:
            problems.append(f"{where}.options: {len(options)} options, must be 1..25")
        for k, option in enumerate(options):
            at = f"{where}.options[{k}]"
            problems += _text_between(f"{at}.label", option.get("label"), 1, 100)
            problems += _text_between(f"{at}.value", option.get("value"), 1, 100)
            problems += _too_long(
                f"{at}.description", option.get("description"), SELECT_OPTION_TEXT_MAX
            )
        if isinstance(high, int) and high > len(options):
            problems.append(f"{where}.max_values: {high} exceeds the {len(options)} options")
    return problems


def _check_components_v2(components: list[Any]) -> list[str]:
    """Layout components: at most 40 in total, custom_ids 1..100 and unique."""
    problems: list[str] = []
    seen: set[str] = set()
    count = 0
    stack = [(f"components[{i}]", c) for i, c in enumerate(components)]
    while stack:
        where, comp = stack.pop()
        count += 1
        if "custom_id" in comp:
            problems += _check_custom_id(where, comp["custom_id"], seen)
        for j, child in enumerate(_items(comp.get("components"))):
            stack.append((f"{where}.components[{j}]", child))
        if isinstance(comp.get("accessory"), Mapping):
            stack.append((f"{where}.accessory", comp["accessory"]))
    if count > COMPONENTS_V2_MAX:
        problems.append(f"components: {count} components, limit {COMPONENTS_V2_MAX}")
    return problems


# --------------------------------------------------------------------------- modals


def check_modal_payload(payload: Mapping[str, Any]) -> list[str]:
    """Limits of a modal callback's ``data`` (title, custom_id, 1..5 inputs)."""
    problems = _text_between("title", payload.get("title"), 1, MODAL_TITLE_MAX)
    problems += _text_between("custom_id", payload.get("custom_id"), 1, CUSTOM_ID_MAX)
    components = _items(payload.get("components"))
    if not 1 <= len(components) <= MODAL_COMPONENTS_MAX:
        problems.append(f"components: {len(components)} components, must be 1..5")
    seen: set[str] = set()
    for i, comp in enumerate(components):
        at = f"components[{i}]"
        kind = comp.get("type")
        if kind == ACTION_ROW:
            inputs = _items(comp.get("components"))
            if len(inputs) != 1 or inputs[0].get("type") != TEXT_INPUT:
                problems.append(f"{at}: a modal action row holds exactly one text input")
            for j, text_input in enumerate(inputs):
                problems += _check_text_input(f"{at}.components[{j}]", text_input, seen, True)
        elif kind == LABEL:
            problems += _text_between(f"{at}.label", comp.get("label"), 1, TEXT_INPUT_LABEL_MAX)
            problems += _too_long(
                f"{at}.description", comp.get("description"), LABEL_DESCRIPTION_MAX
            )
            inner = comp.get("component")
            if not isinstance(inner, Mapping):
                problems.append(f"{at}.component: a label needs a component")
            elif inner.get("type") == TEXT_INPUT:
                problems += _check_text_input(f"{at}.component", inner, seen, False)
            elif "custom_id" in inner:
                problems += _check_custom_id(f"{at}.component", inner["custom_id"], seen)
        elif kind != TEXT_DISPLAY:
            problems.append(f"{at}: type {kind!r} is not allowed at the top of a modal")
    return problems


def _check_text_input(
    where: str, text_input: Mapping[str, Any], seen: set[str], needs_label: bool
) -> list[str]:
    problems = _check_custom_id(where, text_input.get("custom_id"), seen)
    label = text_input.get("label")
    if needs_label or label is not None:
        problems += _text_between(f"{where}.label", label, 1, TEXT_INPUT_LABEL_MAX)
    if text_input.get("style") not in (1, 2):
        problems.append(f"{where}.style: {text_input.get('style')!r}, must be 1 or 2")
    low, high = text_input.get("min_length"), text_input.get("max_length")
    if low is not None and not 0 <= low <= TEXT_INPUT_LENGTH_MAX:
        problems.append(f"{where}.min_length: {low}, must be 0..{TEXT_INPUT_LENGTH_MAX}")
    if high is not None and not 1 <= high <= TEXT_INPUT_LENGTH_MAX:
        problems.append(f"{where}.max_length: {high}, must be 1..{TEXT_INPUT_LENGTH_MAX}")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.append(f"{where}.min_length: {low} is greater than max_length {high}")
    value = text_input.get("value")
    problems += _too_long(f"{where}.value", value, TEXT_INPUT_LENGTH_MAX)
    if isinstance(high, int) and _length(value) > high:
        problems.append(f"{where}.value: {_length(value)} characters, max_length is {high}")
    problems += _too_long(
        f"{where}.placeholder", text_input.get("placeholder"), TEXT_INPUT_PLACEHOLDER_MAX
    )
    return problems


# --------------------------------------------------------------------------- autocomplete


def check_autocomplete_choices(choices: Sequence[Mapping[str, Any]]) -> list[str]:
    """At most 25 choices, names 1..100, string values at most 100 characters."""
    problems = []
    if len(choices) > CHOICES_MAX:
        problems.append(f"choices: {len(choices)} choices, limit {CHOICES_MAX}")
    problems += _check_choices("choices", choices)
    return problems


def _check_choices(at: str, choices: Iterable[Mapping[str, Any]]) -> list[str]:
    problems = []
    for i, choice in enumerate(choices):
        where = f"{at}[{i}]"
        problems += _text_between(f"{where}.name", choice.get("name"), 1, CHOICE_NAME_MAX)
        for locale, text in (choice.get("name_localizations") or {}).items():
            problems += _text_between(
                f"{where}.name_localizations.{locale}", text, 1, CHOICE_NAME_MAX
            )
        value = choice.get("value")
        if isinstance(value, str):
            problems += _too_long(f"{where}.value", value, CHOICE_STRING_VALUE_MAX)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{where}.value: must be a string or a number")
    return problems


# --------------------------------------------------------------------------- commands


def check_command_payload(command: Mapping[str, Any]) -> list[str]:
    """Naming, description, option, choice and nesting rules of one application command."""
    kind = command.get("type") or CHAT_INPUT
    name = command.get("name")
    if kind != CHAT_INPUT:  # user / message context-menu commands
        return _text_between("name", name, 1, 32)
    problems = _check_named("", command)
    options = _items(command.get("options"))
    problems += _check_options("options", options, depth=0)
    return problems


def _check_named(at: str, item: Mapping[str, Any]) -> list[str]:
    """Name and description rules shared by commands and their options."""
    prefix = f"{at}." if at else ""
    problems = _check_name(f"{prefix}name", item.get("name"))
    for locale, text in (item.get("name_localizations") or {}).items():
        problems += _check_name(f"{prefix}name_localizations.{locale}", text)
    problems += _text_between(
        f"{prefix}description", item.get("description"), 1, COMMAND_DESCRIPTION_MAX
    )
    for locale, text in (item.get("description_localizations") or {}).items():
        problems += _text_between(
            f"{prefix}description_localizations.{locale}", text, 1, COMMAND_DESCRIPTION_MAX
        )
    return problems


def _check_name(where: str, name: object) -> list[str]:
    if not isinstance(name, str) or not COMMAND_NAME.match(name):
        return [f"{where}: {name!r} must match ^[-_\\w]{{1,32}}$"]
    if name != name.lower():
        return [f"{where}: {name!r} must be lowercase"]
    return []


def _check_options(at: str, options: list[Any], depth: int) -> list[str]:
    problems = []
    if len(options) > OPTIONS_MAX:
        problems.append(f"{at}: {len(options)} options, limit {OPTIONS_MAX}")
    kinds = [o.get("type") for o in options]
    nested = [k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds]
    if any(nested) and not all(nested):
        problems.append(f"{at}: subcommands/groups cannot be mixed with other options")
    names = [o.get("name") for o in options]
    for dup in sorted({n for n in names if isinstance(n, str) and names.count(n) > 1}):
        problems.append(f"{at}: option name {dup!r} is used twice")
    seen_optional = False
    for i, option in enumerate(options):
        where = f"{at}[{i}]"
        kind = option.get("type")
        problems += _check_named(where, option)
        if kind == SUB_COMMAND_GROUP:
            if depth > 0:
                problems.append(f"{where}: a subcommand group can only be at the top level")
            children = _items(option.get("options"))
            if any(c.get("type") != SUB_COMMAND for c in children):
                problems.append(f"{where}.options: a group may only contain subcommands")
            problems += _check_options(f"{where}.options", children, depth + 1)
        elif kind == SUB_COMMAND:
            problems += _check_options(f"{where}.options", _items(option.get("options")), 2)
        else:
            problems += _check_value_option(where, option)
            if option.get("required"):
                if seen_optional:
                    problems.append(f"{where}: required options must come before optional ones")
            else:
                seen_optional = True
        if depth >= 2 and kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            problems.append(f"{where}: subcommands cannot be nested this deep")
    return problems


def _check_value_option(where: str, option: Mapping[str, Any]) -> list[str]:
    problems = []
    choices = _items(option.get("choices"))
    if len(choices) > CHOICES_MAX:
        problems.append(f"{where}.choices: {len(choices)} choices, limit {CHOICES_MAX}")
    problems += _check_choices(f"{where}.choices", choices)
    if choices and option.get("autocomplete"):
        problems.append(f"{where}: autocomplete cannot be combined with choices")
    if option.get("type") == OPT_STRING:
        low, high = option.get("min_length"), option.get("max_length")
        if low is not None and not 0 <= low <= OPTION_STRING_LENGTH_MAX:
            problems.append(f"{where}.min_length: {low}, must be 0..{OPTION_STRING_LENGTH_MAX}")
        if high is not None and not 1 <= high <= OPTION_STRING_LENGTH_MAX:
            problems.append(f"{where}.max_length: {high}, must be 1..{OPTION_STRING_LENGTH_MAX}")
    low, high = option.get("min_value"), option.get("max_value")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        problems.append(f"{where}.min_value: {low} is greater than max_value {high}")
    return problems


# --------------------------------------------------------------------------- mentions


def check_allowed_mentions_none(payload: Mapping[str, Any]) -> list[str]:
    """A message with content must carry allowed_mentions that ping nobody: ``{"parse": []}``."""
    content = payload.get("content")
    if not isinstance(content, str) or not content:
        return []
    mentions = payload.get("allowed_mentions")
    if not isinstance(mentions, Mapping):
        return ["allowed_mentions: missing; send {'parse': []} so content pings nobody"]
    problems = []
    parse = mentions.get("parse")
    if parse is None:
        problems.append("allowed_mentions.parse: missing; must be [] (unset parses everything)")
    elif list(parse):
        problems.append(f"allowed_mentions.parse: {list(parse)!r}, must be []")
    for key in ("users", "roles"):
        if mentions.get(key):
            problems.append(f"allowed_mentions.{key}: {mentions[key]!r}, must be empty")
    if mentions.get("replied_user"):
        problems.append("allowed_mentions.replied_user: true pings the replied-to author")
    return problems
