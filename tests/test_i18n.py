"""The four catalogs (en, zh, ja, ko): complete, consistent with the code, and valid for Discord."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.errors import DomainError, GenerationError, NotFoundError, StorageError
from bot.i18n import (
    COMMAND_LOCALES,
    Catalog,
    CatalogTranslator,
    choose_language,
    language_for_locale,
    placeholders,
)
from bot.interactions.delivery import failure_reason
from bot.services.mod_scopes import MODERATOR_STATUSES
from bot.services.quota import QuotaStatus
from bot.ui.embeds import quota_embed
from cogs.moderation.channels import LOG_NEEDS, SHOWCASE_NEEDS
from db.bot_models import MOD_ACTIONS, MOD_SCOPES
from db.models import CONTENT_FILTERS, STYLES, SUBSCRIPTION_TIERS, VISIBILITIES
from tests.fakes.discord.limits import check_command_payload
from tests.i18n_tool import (
    DESCRIPTION_MAX,
    TRANSLATED,
    CommandText,
    build_tree,
    command_texts,
    keys_in_code,
    read_catalog,
    translated_payload,
    valid_command_name,
    walk_payload,
)

ENGLISH = read_catalog("en")["messages"]
DISCORD_LOCALES = {str(locale) for locale in COMMAND_LOCALES}  # zh-CN, ja, ko

# f-string keys in the code, and every key each can become. A new f-string key fails
# ``test_every_dynamic_key_is_known`` until it is listed here.
DYNAMIC_KEYS: dict[str, tuple[str, ...]] = {
    "progress.{}": tuple(
        f"progress.{s}"
        for s in ("queued", "prompt", "drawing", "saving", "busy", "database", "starting")
    ),
    "cancel.{}": tuple(f"cancel.{a}" for a in ("cancelled", "saving", "finished", "stopped")),
    "style.{}": tuple(f"style.{s}" for s in STYLES),
    "list.title.{}": tuple(f"list.title.{f}" for f in ("all", "favorites", "library")),
    "settings.filter.{}": tuple(f"settings.filter.{f}" for f in CONTENT_FILTERS),
    "settings.visibility.{}": tuple(f"settings.visibility.{v}" for v in VISIBILITIES),
    "mod.status.{}": tuple(f"mod.status.{s}" for s in (*MODERATOR_STATUSES, "blocked")),
    "mod.scope_tag.{}": tuple(f"mod.scope_tag.{s}" for s in MOD_SCOPES),
    "perm.{}": tuple(f"perm.{p}" for p in (*SHOWCASE_NEEDS, *LOG_NEEDS)),
    "quota.tier.{}": tuple(f"quota.tier.{t}" for t in SUBSCRIPTION_TIERS),
    "mod.action.{}": tuple(f"mod.action.{a}" for a in MOD_ACTIONS),
    # replies.py falls back to the field-generic texts (and to the bare word for things)
    "invalid.field_{}": ("invalid.field_too_long", "invalid.field_empty"),
    "invalid.{}_too_long": ("invalid.field_too_long",),
    "invalid.{}_empty": ("invalid.field_empty",),
    "field.{}": (),  # the clean_text(field="…") literals, checked as literal keys
    "thing.{}": (),  # the NotFoundError("…") literals, checked as literal keys
}
# Texts with Latin letters (outside {placeholders} and `code`) that rightly read the same in
# every language.
SAME_EVERYWHERE = frozenset(
    {
        "character.footer",  # "ID {id}"
        "modal.variant.theme_hint",  # the default theme's stored name, "Variations"
    }
)
NOT_WORDS = re.compile(r"\{\w*\}|`[^`]*`")
SAME_COMMAND_TEXTS = frozenset({"English"})  # language choices are in their own language


def _lines(problems: list[str]) -> str:
    return "\n".join(problems)


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_key_is_translated(lang: str) -> None:
    """Every message key of en exists in zh, ja and ko."""
    own = read_catalog(lang)["messages"]
    missing = [f"{lang}: {key} is missing" for key in ENGLISH if key not in own]
    assert missing == [], _lines(missing)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_placeholders_match_english(lang: str) -> None:
    """Each translation uses exactly the {placeholders} of the English text."""
    own = read_catalog(lang)["messages"]
    wrong = [
        f"{lang}: {key} has {sorted(placeholders(own[key]))}, en {sorted(placeholders(text))}"
        for key, text in ENGLISH.items()
        if key in own and placeholders(own[key]) != placeholders(text)
    ]
    assert wrong == [], _lines(wrong)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_no_keys_that_english_lacks(lang: str) -> None:
    """A translation has no key that en.json does not define."""
    extra = sorted(set(read_catalog(lang)["messages"]) - set(ENGLISH))
    assert extra == [], f"{lang}: keys not in en: {extra}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_markup(lang: str) -> None:
    """Bold, code spans, line breaks, leading emoji and Discord markup survive translation."""
    own = read_catalog(lang)["messages"]
    wrong = []
    for key, text in ENGLISH.items():
        translated = own.get(key, text)
        for mark in ("**", "`", "\n", "<t:", "<#", "<@"):
            if translated.count(mark) != text.count(mark):
                wrong.append(f"{lang}: {key} changes the number of {mark!r}")
        if translated.count("/") < text.count("/"):  # /commands and URLs stay
            wrong.append(f"{lang}: {key} drops a '/'")
        if not text[:1].isascii() and translated[:1] != text[:1]:
            wrong.append(f"{lang}: {key} must start with {text[:1]!r}")
    assert wrong == [], _lines(wrong)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_messages_are_actually_translated(lang: str) -> None:
    """No text is left in English (apart from the few that are the same everywhere)."""
    own = read_catalog(lang)["messages"]
    untranslated = [
        f"{lang}: {key} is still English"
        for key, text in ENGLISH.items()
        if key not in SAME_EVERYWHERE
        and own.get(key) == text
        and re.search("[A-Za-z]", NOT_WORDS.sub("", text))
    ]
    assert untranslated == [], _lines(untranslated)


def test_catalog_falls_back_to_english_and_fills_placeholders() -> None:
    """Catalog.t fills placeholders in the member's language and falls back to English."""
    catalog = Catalog(
        {
            "en": {"messages": {"a": "Hello {name}", "b": "Only English"}},
            "ja": {"messages": {"a": "こんにちは、{name}さん"}},
        }
    )
    assert catalog.t("ja", "a", name="Aria") == "こんにちは、Ariaさん"
    assert catalog.t("ja", "b") == "Only English"
    assert catalog.t("ko", "a", name="Aria") == "Hello Aria"
    assert catalog.t("ja", "a") == "こんにちは、{name}さん"


def test_packaged_catalogs_load_every_language() -> None:
    """Catalog.load reads all four packaged files, each with its own texts."""
    catalog = Catalog.load()
    assert catalog.has("error.internal")
    texts = {lang: catalog.t(lang, "error.internal") for lang in ("en", *TRANSLATED)}
    assert len(set(texts.values())) == 4, texts
    assert catalog.command_text("ja", "character") == read_catalog("ja")["commands"]["character"]


# --------------------------------------------------------------------------- keys in code


def test_every_literal_key_in_the_code_exists_in_english() -> None:
    """Each key the code names literally (t(), reason_key=, NotFoundError, …) is in en.json."""
    uses = keys_in_code()
    assert len(uses) > 50  # the scan really found the calls
    missing = sorted({f"{use.key} ({use.where})" for use in uses if not use.defined_in(ENGLISH)})
    assert missing == [], _lines(missing)


def test_every_dynamic_key_is_known() -> None:
    """Each f-string key in the code is listed in DYNAMIC_KEYS (so its expansions are checked)."""
    unknown = sorted(
        {
            f"{use.key} ({use.where})"
            for use in keys_in_code(patterns=True)
            if use.key not in DYNAMIC_KEYS
        }
    )
    assert unknown == [], _lines(unknown)


@pytest.mark.parametrize(("pattern", "keys"), sorted(DYNAMIC_KEYS.items()))
def test_every_expansion_of_a_dynamic_key_exists(pattern: str, keys: tuple[str, ...]) -> None:
    """Every concrete key an f-string key can become is defined in en.json."""
    missing = [key for key in keys if key not in ENGLISH]
    assert missing == [], f"{pattern}: {missing}"


# --------------------------------------------------------------------------- commands


@pytest.fixture(scope="module")
async def tree() -> app_commands.CommandTree[Any]:
    """The bot's command tree with every cog loaded."""
    return await build_tree()


@pytest.fixture(scope="module")
async def texts(tree: app_commands.CommandTree[Any]) -> set[CommandText]:
    """Every command name, description and choice name of the bot."""
    return await command_texts(tree)


@pytest.fixture(scope="module")
async def payload(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """The command payload the bot syncs, with the catalogs' translations."""
    return await translated_payload(tree)


async def test_the_tree_has_every_cog(tree: app_commands.CommandTree[Any]) -> None:
    """The walked tree holds the commands of every cog (so the checks below see them all)."""
    names = {command.name for command in tree.get_commands()}
    assert {"character", "theme", "variant", "quota"} <= names


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_command_text_is_translated(lang: str, texts: set[CommandText]) -> None:
    """Every command/option name, description and choice name has a translation."""
    own = read_catalog(lang)["commands"]
    missing = sorted(
        {f"{lang}: {t.english!r} ({t.location.name})" for t in texts if t.english not in own}
    )
    assert missing == [], _lines(missing)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_localised_names_follow_discord_rules(lang: str, texts: set[CommandText]) -> None:
    """Localised command and option names match Discord's pattern and are lowercase."""
    own = read_catalog(lang)["commands"]
    wrong = []
    for text in sorted((t for t in texts if t.is_name and t.english in own), key=str):
        name = own[text.english]
        if not valid_command_name(name):
            wrong.append(f"{lang}: {text.english!r} → {name!r} is not a valid command name")
    assert wrong == [], _lines(wrong)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_localised_descriptions_and_choices_fit(lang: str, texts: set[CommandText]) -> None:
    """Localised descriptions and choice names are 1..100 characters, and not still English."""
    own = read_catalog(lang)["commands"]
    wrong = []
    for text in sorted((t for t in texts if t.english in own), key=str):
        translated = own[text.english]
        if not text.is_name and not 1 <= len(translated) <= DESCRIPTION_MAX:
            wrong.append(f"{lang}: {text.english!r} → {len(translated)} characters")
        if translated == text.english and text.english not in SAME_COMMAND_TEXTS:
            wrong.append(f"{lang}: {text.english!r} is not translated")
    assert wrong == [], _lines(wrong)


def _sibling_names(payload: list[dict[str, Any]]) -> Iterator[tuple[str, str, list[str]]]:
    """(path, locale, the names siblings show in that locale) for each list of siblings."""
    for path, siblings in walk_payload(payload):
        for locale in ("", *sorted(DISCORD_LOCALES)):
            kinds: dict[int, list[str]] = {}
            for item in siblings:
                name = (item.get("name_localizations") or {}).get(locale, item["name"])
                kinds.setdefault(item.get("type", 1) if path == "/" else 0, []).append(name)
            for names in kinds.values():
                yield path, locale or "default", names


def test_localised_sibling_names_are_unique(payload: list[dict[str, Any]]) -> None:
    """No two options of a command (or subcommands of a group) share a name in any locale."""
    clashes = [
        f"{path} [{locale}]: {sorted({n for n in names if names.count(n) > 1})}"
        for path, locale, names in _sibling_names(payload)
        if len(set(names)) != len(names)
    ]
    assert clashes == [], _lines(clashes)


def _localised_items(items: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for item in items:
        yield item["name"], item
        yield from (
            (f"{item['name']} {n}", o) for n, o in _localised_items(item.get("options") or [])
        )


async def test_synced_payload_carries_localisations(payload: list[dict[str, Any]]) -> None:
    """Every command and option syncs with zh-CN, ja and ko names and descriptions."""
    assert {"zh-CN", "ja", "ko"} == DISCORD_LOCALES
    seen = 0
    for path, item in _localised_items(payload):
        seen += 1
        assert set(item.get("name_localizations") or {}) == DISCORD_LOCALES, path
        if item.get("description"):  # context menus have none
            assert set(item.get("description_localizations") or {}) == DISCORD_LOCALES, path
        for choice in item.get("choices") or []:
            assert set(choice.get("name_localizations") or {}) == DISCORD_LOCALES, (path, choice)
    assert seen > 40


async def test_synced_payload_passes_discords_command_rules(payload: list[dict[str, Any]]) -> None:
    """The localised payload obeys Discord's naming, length and nesting rules."""
    problems = {command["name"]: check_command_payload(command) for command in payload}
    assert all(found == [] for found in problems.values()), problems


async def test_translator_answers_only_for_translated_locales() -> None:
    """The translator gives the catalog's text for zh-CN, ja and ko, and nothing otherwise."""
    translator = CatalogTranslator(Catalog.load())
    context: app_commands.TranslationContext[Any, None] = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.other, None
    )
    text = app_commands.locale_str("character")
    japanese = await translator.translate(text, discord.Locale.japanese, context)
    assert japanese == read_catalog("ja")["commands"]["character"]
    chinese = await translator.translate(text, discord.Locale.chinese, context)
    assert chinese == read_catalog("zh")["commands"]["character"]
    assert await translator.translate(text, discord.Locale.french, context) is None
    unknown = app_commands.locale_str("no such command text")
    assert await translator.translate(unknown, discord.Locale.korean, context) is None


# --------------------------------------------------------------------------- language choice


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (discord.Locale.chinese, "zh"),
        (discord.Locale.taiwan_chinese, "zh"),
        ("zh-CN", "zh"),
        ("zh-TW", "zh"),
        (discord.Locale.japanese, "ja"),
        (discord.Locale.korean, "ko"),
        (discord.Locale.american_english, "en"),
        (discord.Locale.french, None),
        (None, None),
    ],
)
def test_language_for_locale(locale: str | discord.Locale | None, expected: str | None) -> None:
    """Discord locales map to catalog languages (both Chinese locales to zh), others to None."""
    assert language_for_locale(locale) == expected


@pytest.mark.parametrize(
    ("preferred", "locale", "expected"),
    [
        (None, discord.Locale.japanese, "ja"),
        (None, discord.Locale.taiwan_chinese, "zh"),
        (None, discord.Locale.korean, "ko"),
        (None, discord.Locale.french, "en"),
        (None, None, "en"),
        ("ja", discord.Locale.korean, "ja"),
        ("en", discord.Locale.chinese, "en"),
        ("xx", discord.Locale.korean, "ko"),
    ],
)
def test_choose_language(
    preferred: str | None, locale: discord.Locale | None, expected: str
) -> None:
    """The preferred language wins, then the client's locale, then English."""
    assert choose_language(preferred, locale) == expected


@pytest.mark.parametrize(
    ("lang", "tier", "shown"),
    [("ja", "PREMIUM", "プレミアム"), ("en", "FREE", "Free"), ("ko", "LEGACY", "LEGACY")],
)
def test_quota_shows_the_tier_in_the_members_language(lang: str, tier: str, shown: str) -> None:
    """/quota names the tier in the member's language; a tier this version does not know is
    shown as stored."""
    status = QuotaStatus(used=1, quota=3, tier=tier, resets_at=datetime(2026, 11, 28, tzinfo=UTC))
    text = quota_embed(Catalog.load(), lang, status).description or ""
    assert shown in text
    if shown != tier:
        assert tier not in text


@pytest.mark.parametrize("lang", ["en", *TRANSLATED])
@pytest.mark.parametrize(
    "error",
    [
        GenerationError("safety"),
        GenerationError("rate_limited", retryable=True),
        StorageError("s3 said no"),
        NotFoundError("character"),
    ],
    ids=lambda error: error.key,
)
def test_a_workers_failure_post_gives_the_reason_in_the_members_language(
    lang: str, error: DomainError
) -> None:
    """A worker posts a failure from the generation's stored ``error_message`` (the error's
    English text): the member reads the error's own text in their language."""
    catalog = Catalog.load()
    reason = failure_reason(catalog, lang, str(error))
    assert reason == catalog.t(lang, error.key, **error.params)
    if lang != "en":
        assert reason != str(error)
    post = catalog.t(lang, "job.failed", reason=reason)
    assert reason in post


@pytest.mark.parametrize("stored", ["Internal error (KeyError).", "", None])
def test_a_failure_no_error_explains_is_posted_as_an_internal_error(stored: str | None) -> None:
    """An internal error's stored text (a Python class name) is not shown to the member."""
    catalog = Catalog.load()
    assert failure_reason(catalog, "ja", stored) == catalog.t("ja", "error.internal")
