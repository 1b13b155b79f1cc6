"""Localisation: one catalog per language (en, zh, ja, ko) for replies and for the command
names, descriptions and choices that Discord shows.

A reply's language is the member's ``preferred_language``; without a user row yet, the
interaction's locale; else English. The catalogs live in ``bot/locales/<lang>.json`` with two
sections: ``messages`` (key → text with ``{placeholders}``) and ``commands`` (the English name or
description → its translation).
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Mapping
from importlib import resources
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("en", "zh", "ja", "ko")
DEFAULT_LANGUAGE = "en"
# Discord locales whose commands we translate, and the catalog each uses.
COMMAND_LOCALES: dict[discord.Locale, str] = {
    discord.Locale.chinese: "zh",
    discord.Locale.japanese: "ja",
    discord.Locale.korean: "ko",
}


def language_for_locale(locale: str | discord.Locale | None) -> str | None:
    """The catalog language of a Discord locale (zh-CN and zh-TW → zh), or None."""
    if locale is None:
        return None
    value = str(locale.value if isinstance(locale, discord.Locale) else locale).lower()
    prefix = value.split("-", 1)[0]
    return prefix if prefix in LANGUAGES else None


def choose_language(preferred: str | None, locale: str | discord.Locale | None) -> str:
    """The member's chosen language, else their Discord client's, else English."""
    if preferred in LANGUAGES:
        return str(preferred)
    return language_for_locale(locale) or DEFAULT_LANGUAGE


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def placeholders(template: str) -> frozenset[str]:
    """The ``{names}`` a template uses."""
    return frozenset(
        field for _, field, _, _ in string.Formatter().parse(template) if field is not None
    )


class Catalog:
    """All languages' texts, loaded once by the composition root."""

    def __init__(self, data: Mapping[str, Mapping[str, Mapping[str, str]]]) -> None:
        self._messages = {lang: dict(data.get(lang, {}).get("messages", {})) for lang in LANGUAGES}
        self._commands = {lang: dict(data.get(lang, {}).get("commands", {})) for lang in LANGUAGES}

    @classmethod
    def load(cls) -> Catalog:
        """Read the packaged catalogs."""
        data: dict[str, Any] = {}
        folder = resources.files("bot.locales")
        for lang in LANGUAGES:
            resource = folder / f"{lang}.json"
            data[lang] = (
                json.loads(resource.read_text(encoding="utf-8")) if resource.is_file() else {}
            )
        return cls(data)

    def messages(self, lang: str) -> Mapping[str, str]:
        """Every message of one language."""
        return self._messages.get(lang, {})

    def commands(self, lang: str) -> Mapping[str, str]:
        """Every command-text translation of one language."""
        return self._commands.get(lang, {})

    def has(self, key: str) -> bool:
        """Whether the English catalog defines ``key``."""
        return key in self._messages[DEFAULT_LANGUAGE]

    def t(self, lang: str, key: str, /, **params: Any) -> str:
        """The text of ``key`` in ``lang`` (English when missing there), filled in."""
        template = self._messages.get(lang, {}).get(key)
        if template is None:
            template = self._messages[DEFAULT_LANGUAGE].get(key)
            if template is None:
                log.warning("missing catalog key %s", key)
                return key
        return template.format_map(_SafeDict(params))

    def command_text(self, lang: str, english: str) -> str | None:
        """The translation of a command name, description or choice, if there is one."""
        return self._commands.get(lang, {}).get(english)


class CatalogTranslator(app_commands.Translator):
    """Gives Discord the zh-CN, ja and ko names, descriptions and choices of every command."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        lang = COMMAND_LOCALES.get(locale)
        if lang is None:
            return None
        return self.catalog.command_text(lang, string.message)
