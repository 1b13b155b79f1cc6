"""Localisation helpers for the tests, and a report of what the catalogs still lack.

Run ``python -m tests.i18n_tool`` from the repository root: it lists every message key and every
command text (name, description, choice) that a language does not translate yet, and the catalog
keys the code uses that ``en.json`` does not define.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
import pkgutil
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

import cogs
from bot.i18n import COMMAND_LOCALES, LANGUAGES, Catalog, CatalogTranslator, placeholders
from bot.interactions.tree import CharTree

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "bot" / "locales"
SOURCE_DIRS = (ROOT / "bot", ROOT / "cogs")
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")
DESCRIPTION_MAX = 100
NAME_LOCATIONS = frozenset(
    {
        app_commands.TranslationContextLocation.command_name,
        app_commands.TranslationContextLocation.group_name,
        app_commands.TranslationContextLocation.parameter_name,
    }
)


def valid_command_name(name: str) -> bool:
    """Discord's rule for command and option names: 1..32 of ``-``, ``_``, letters, digits,
    Devanagari or Thai (``^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``), lowercase
    wherever the script has case."""
    if not 1 <= len(name) <= 32 or name != name.lower():
        return False
    return all(
        ch in "-_"
        or unicodedata.category(ch)[0] in "LN"
        or "\u0900" <= ch <= "\u097f"  # Devanagari
        or "\u0e00" <= ch <= "\u0e7f"  # Thai
        for ch in name
    )


def read_catalog(lang: str) -> dict[str, dict[str, str]]:
    """One language's JSON file as it is on disk (empty sections when missing)."""
    path = LOCALES / f"{lang}.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {"messages": data.get("messages", {}), "commands": data.get("commands", {})}


# --------------------------------------------------------------------------- command tree


def cog_extensions() -> list[str]:
    """Every module of the ``cogs`` package that Discord.py can load as an extension."""
    names = []
    for module in pkgutil.iter_modules(cogs.__path__):
        name = f"cogs.{module.name}"
        if hasattr(importlib.import_module(name), "setup"):
            names.append(name)
    return sorted(names)


async def build_tree() -> app_commands.CommandTree[Any]:
    """The bot's full command tree, every cog loaded, without Discord or a database."""
    bot = commands.Bot(
        command_prefix=commands.when_mentioned,
        intents=discord.Intents.none(),
        tree_cls=CharTree,
        help_command=None,
    )
    for extension in cog_extensions():
        await bot.load_extension(extension)
    return bot.tree


def top_level_commands(tree: app_commands.CommandTree[Any]) -> list[Any]:
    """Slash commands and context menus, as ``CommandTree.sync`` would send them."""
    found: list[Any] = []
    for kind in (
        discord.AppCommandType.chat_input,
        discord.AppCommandType.user,
        discord.AppCommandType.message,
    ):
        found += tree.get_commands(type=kind)  # (no type: every kind at once)
    return found


@dataclass(frozen=True)
class CommandText:
    """One English string Discord shows for a command, and where."""

    english: str
    location: app_commands.TranslationContextLocation

    @property
    def is_name(self) -> bool:
        """Whether Discord applies its naming rules to this string."""
        return self.location in NAME_LOCATIONS


class _Recorder(app_commands.Translator):
    """Notes every string discord.py asks to translate (once, for one locale)."""

    def __init__(self) -> None:
        self.seen: set[CommandText] = set()

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is discord.Locale.japanese:
            self.seen.add(CommandText(string.message, context.location))
        return None


async def command_texts(tree: app_commands.CommandTree[Any]) -> set[CommandText]:
    """Every name, description and choice name of the tree's commands."""
    recorder = _Recorder()
    for command in top_level_commands(tree):
        await command.get_translated_payload(tree, recorder)
    return recorder.seen


async def translated_payload(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """What the bot syncs: every command with the catalogs' translations."""
    translator = CatalogTranslator(Catalog.load())
    return [
        await command.get_translated_payload(tree, translator)
        for command in top_level_commands(tree)
    ]


def walk_payload(
    items: list[dict[str, Any]], path: str = ""
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each list of siblings (top-level commands, a command's options) with its path."""
    yield path or "/", items
    for item in items:
        children = item.get("options") or []
        if children:
            yield from walk_payload(children, f"{path}/{item['name']}")


# --------------------------------------------------------------------------- keys in code


def _python_files() -> Iterator[Path]:
    for folder in SOURCE_DIRS:
        yield from sorted(folder.rglob("*.py"))


def _strings(node: ast.AST, *, patterns: bool = False) -> list[str] | None:
    """The literal strings an expression can be (``"a"`` or ``"a" if x else "b"``); with
    ``patterns``, f-strings too, each ``{…}`` written as ``{}`` (``f"style.{s}"`` → ``style.{}``).
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [] if patterns else [node.value]
    if isinstance(node, ast.JoinedStr):
        if not patterns:
            return None
        return [
            "".join(
                str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
        ]
    if isinstance(node, ast.IfExp):
        body = _strings(node.body, patterns=patterns)
        orelse = _strings(node.orelse, patterns=patterns)
        if body is not None and orelse is not None:
            return body + orelse
    return None


def _is_t_call(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "t") or (
        isinstance(func, ast.Name) and func.id == "t"
    )


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


@dataclass(frozen=True)
class KeyUse:
    """A catalog key written literally in the code, and where."""

    key: str
    where: str
    # keys that replies.localize_error uses instead when ``key`` itself is not defined
    fallback: tuple[str, ...] = ()

    def defined_in(self, english: Mapping[str, str]) -> bool:
        """Whether the English catalog has this key, or everything its fallback needs."""
        return self.key in english or bool(self.fallback and set(self.fallback) <= set(english))


def keys_in_code(*, patterns: bool = False) -> list[KeyUse]:
    """Literal catalog keys in bot/ and cogs/: ``t(lang, "key")``, ``reason_key="key"``,
    ``NotFoundError("thing")`` → ``thing.<thing>``, ``GenerationError("kind")`` →
    ``error.generation.<kind>``, ``clean_text(…, field="f")`` → ``field.<f>``, and the
    ``key = "…"`` of error classes. With ``patterns``, instead the f-string keys given to
    ``t`` and ``reason_key``, as patterns like ``progress.{}``."""
    uses: list[KeyUse] = []
    modules = {
        path: ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for path in _python_files()
    }
    constants = {} if patterns else _string_constants(modules.values())
    for path, tree in modules.items():
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                keys = _keys_of_call(node, patterns, constants)
                uses += [KeyUse(key, where, _fallback(node, key)) for key in keys]
            elif isinstance(node, ast.ClassDef) and not patterns:
                uses += [KeyUse(key, where) for key in _class_keys(node)]
    return uses


def _string_constants(modules: Iterable[ast.Module]) -> dict[str, str]:
    """Module-level ``UPPER_CASE = "text"`` constants (a key kept in a constant, say)."""
    found: dict[str, str] = {}
    for module in modules:
        for statement in module.body:
            target, value = _assignment(statement)
            if (
                isinstance(target, ast.Name)
                and target.id.isupper()
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                found[target.id] = value.value
    return found


def _assignment(statement: ast.stmt) -> tuple[ast.expr | None, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        return statement.targets[0], statement.value
    if isinstance(statement, ast.AnnAssign):
        return statement.target, statement.value
    return None, None


def _key_values(node: ast.expr, patterns: bool, constants: Mapping[str, str]) -> list[str]:
    """The keys an argument can be: literals, or a constant named by ``NAME`` / ``mod.NAME``."""
    values = _strings(node, patterns=patterns)
    if values is not None:
        return values
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return [constants[name]] if isinstance(name, str) and name in constants else []


def _keys_of_call(node: ast.Call, patterns: bool, constants: Mapping[str, str]) -> list[str]:
    keys: list[str] = []
    if _is_t_call(node) and len(node.args) >= 2:
        keys += _key_values(node.args[1], patterns, constants)
    callee = _callee(node)
    for keyword in node.keywords:
        if keyword.arg == "reason_key":
            keys += _key_values(keyword.value, patterns, constants)
        elif keyword.arg == "field" and callee == "clean_text" and not patterns:
            keys += [f"field.{value}" for value in _strings(keyword.value) or []]
    if node.args and callee in ("NotFoundError", "GenerationError") and not patterns:
        prefix = "thing." if callee == "NotFoundError" else "error.generation."
        keys += [prefix + value for value in _strings(node.args[0]) or []]
    return keys


def _fallback(node: ast.Call, key: str) -> tuple[str, ...]:
    """``reason_key="invalid.x_too_long", field="x"`` falls back to ``invalid.field_too_long``
    with ``field.x`` (see ``bot.interactions.replies.localize_error``)."""
    fields = [k.value for k in node.keywords if k.arg == "field"]
    field = _strings(fields[0]) if fields else None
    for suffix in ("too_long", "empty"):
        if field and key.endswith(f"_{suffix}"):
            return (f"invalid.field_{suffix}", f"field.{field[0]}")
    return ()


def _class_keys(node: ast.ClassDef) -> list[str]:
    """``key = "error.…"`` in a class body (the domain errors)."""
    keys = []
    for statement in node.body:
        target, value = _assignment(statement)
        if isinstance(target, ast.Name) and target.id == "key" and value is not None:
            keys += _strings(value) or []
    return keys


# --------------------------------------------------------------------------- report


def missing_messages(lang: str) -> list[str]:
    """Message keys of en that ``lang`` lacks, or whose placeholders differ."""
    english = read_catalog("en")["messages"]
    own = read_catalog(lang)["messages"]
    return [
        key
        for key, text in english.items()
        if key not in own or placeholders(own[key]) != placeholders(text)
    ]


async def missing_commands(lang: str) -> list[str]:
    """Command texts of the code that ``lang`` does not translate."""
    own = read_catalog(lang)["commands"]
    texts = await command_texts(await build_tree())
    return sorted({t.english for t in texts if t.english not in own})


async def _main() -> int:
    english = read_catalog("en")["messages"]
    problems = 0
    for use in keys_in_code():
        if not use.defined_in(english):
            print(f"en: {use.key} used at {use.where} is not defined")
            problems += 1
    for lang in TRANSLATED:
        for key in missing_messages(lang):
            print(f"{lang}: messages[{key!r}] = {english[key]!r}")
            problems += 1
        extra = set(read_catalog(lang)["messages"]) - set(english)
        for key in sorted(extra):
            print(f"{lang}: messages[{key!r}] is not in en")
            problems += 1
        for text in await missing_commands(lang):
            print(f"{lang}: commands[{text!r}]")
            problems += 1
    print(f"{problems} problem(s); locales {', '.join(str(loc) for loc in COMMAND_LOCALES)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
