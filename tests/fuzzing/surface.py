"""The bot's interactive surface, read from the running bot and from what it registered with
Discord, so commands, buttons and modals added later are fuzzed without touching this file:
slash commands (options, types, choices, ranges, autocomplete), context menus, the registered
DynamicItem classes (their custom_id templates) and the modal classes."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any

import discord
from discord import app_commands

import cogs
from bot.interactions.routing import FeatureModal, FeatureSelect

# Option types (Discord's numbering).
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
SUPPORTED_OPTION_TYPES = {STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER}
SUPPORTED_OPTION_TYPES |= {ATTACHMENT}
# Command types.
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
# Interaction contexts: a guild, the bot's DM, other DMs and group DMs (user installs).
GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2


@dataclass(frozen=True)
class OptionSpec:
    """One leaf option as registered with Discord."""

    name: str
    type: int
    required: bool
    choices: tuple[Any, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    autocomplete: bool = False
    channel_types: tuple[int, ...] = ()


@dataclass(frozen=True)
class CommandSpec:
    """A runnable command: ``name`` is "group sub" for subcommands; ``kind`` the command type."""

    name: str
    kind: int
    options: tuple[OptionSpec, ...] = ()
    contexts: tuple[int, ...] = (GUILD, BOT_DM, PRIVATE_CHANNEL)

    @property
    def in_dms(self) -> bool:
        return BOT_DM in self.contexts


@dataclass(frozen=True)
class ItemSpec:
    """A registered DynamicItem: its class, template, and whether it is a select."""

    cls: type[discord.ui.DynamicItem[Any]]
    pattern: re.Pattern[str]
    is_select: bool

    @property
    def name(self) -> str:
        return self.cls.__name__


@dataclass
class Surface:
    commands: list[CommandSpec] = field(default_factory=list)
    items: list[ItemSpec] = field(default_factory=list)
    modals: list[type[discord.ui.Modal]] = field(default_factory=list)


def _option(raw: dict[str, Any]) -> OptionSpec:
    return OptionSpec(
        name=raw["name"],
        type=int(raw["type"]),
        required=bool(raw.get("required")),
        choices=tuple(c["value"] for c in raw.get("choices") or ()),
        min_value=raw.get("min_value"),
        max_value=raw.get("max_value"),
        min_length=raw.get("min_length"),
        max_length=raw.get("max_length"),
        autocomplete=bool(raw.get("autocomplete")),
        channel_types=tuple(raw.get("channel_types") or ()),
    )


def _contexts(raw: dict[str, Any]) -> tuple[int, ...]:
    if raw.get("contexts") is not None:
        return tuple(int(c) for c in raw["contexts"])
    if raw.get("dm_permission") is False:
        return (GUILD,)
    return (GUILD, BOT_DM, PRIVATE_CHANNEL)


def registered_commands(payloads: list[dict[str, Any]]) -> list[CommandSpec]:
    """Every runnable command in the registered payloads (subcommands walked)."""
    out: list[CommandSpec] = []

    def walk(prefix: str, options: list[dict[str, Any]], contexts: tuple[int, ...]) -> None:
        subs = [o for o in options if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        if not subs:
            leaf = tuple(_option(o) for o in options)
            out.append(CommandSpec(prefix, CHAT_INPUT, leaf, contexts))
            return
        for sub in subs:
            walk(f"{prefix} {sub['name']}", sub.get("options") or [], contexts)

    for cmd in payloads:
        kind = int(cmd.get("type", CHAT_INPUT))
        contexts = _contexts(cmd)
        if kind == CHAT_INPUT:
            walk(cmd["name"], cmd.get("options") or [], contexts)
        else:
            out.append(CommandSpec(cmd["name"], kind, (), contexts))
    return sorted(out, key=lambda c: (c.kind, c.name))


def tree_commands(tree: app_commands.CommandTree[Any]) -> set[tuple[str, int]]:
    """(name, type) of every runnable command in the bot's own tree (to compare)."""
    found: set[tuple[str, int]] = set()
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Command):
            found.add((command.qualified_name, CHAT_INPUT))
    for kind, value in (
        (discord.AppCommandType.user, USER_COMMAND),
        (discord.AppCommandType.message, MESSAGE_COMMAND),
    ):
        for menu in tree.get_commands(type=kind):
            found.add((menu.name, value))
    return found


def dynamic_items(client: discord.Client) -> list[ItemSpec]:
    """The DynamicItem classes the bot registered (``add_dynamic_items``)."""
    store = client._connection._view_store
    items = [
        ItemSpec(cls, pattern, issubclass(cls, FeatureSelect) or _wraps_select(cls))
        for pattern, cls in store._dynamic_items.items()
    ]
    return sorted(items, key=lambda i: i.name)


def _wraps_select(cls: type[Any]) -> bool:
    for base in getattr(cls, "__orig_bases__", ()):
        for arg in getattr(base, "__args__", ()):
            if isinstance(arg, type) and issubclass(arg, discord.ui.Select):
                return True
    return False


def modal_classes() -> list[type[discord.ui.Modal]]:
    """Every modal class of the features (importing every module of ``cogs``)."""
    for module in pkgutil.walk_packages(cogs.__path__, "cogs."):
        importlib.import_module(module.name)
    found: list[type[discord.ui.Modal]] = []
    todo: list[type[discord.ui.Modal]] = [FeatureModal]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return sorted(found, key=lambda c: c.__name__)


def group_patterns(template: str) -> dict[str, str]:
    """The sub-pattern of every named group of a template (balanced parentheses)."""
    out: dict[str, str] = {}
    for match in re.finditer(r"\(\?P<(\w+)>", template):
        depth, i = 1, match.end()
        while i < len(template) and depth:
            ch = template[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "[":
                i = template.index("]", i + 2)
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            i += 1
        out[match.group(1)] = template[match.end() : i - 1]
    return out
