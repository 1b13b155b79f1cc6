"""Themes (named groups of a character's variants) and the variants filed under them.

``rows`` and ``variants`` hold the session-level helpers (re-exported here, the feature's
service API); ``use_cases`` holds what the commands call, each opening its own unit of work.
"""

from bot.services.themes.rows import (
    DEFAULT_THEME,
    MAX_LABEL,
    MAX_THEME_DESCRIPTION,
    MAX_THEME_NAME,
    ThemeSummary,
    autocomplete_themes,
    choice_label,
    create_theme,
    delete_theme,
    find_theme_by_name,
    get_or_create_theme,
    get_owned_theme,
    list_themes,
    rename_theme,
    shorten,
    theme_names,
)
from bot.services.themes.variants import (
    autocomplete_variants,
    delete_variant,
    get_owned_variant,
    list_variants,
)

__all__ = [
    "DEFAULT_THEME",
    "MAX_LABEL",
    "MAX_THEME_DESCRIPTION",
    "MAX_THEME_NAME",
    "ThemeSummary",
    "autocomplete_themes",
    "autocomplete_variants",
    "choice_label",
    "create_theme",
    "delete_theme",
    "delete_variant",
    "find_theme_by_name",
    "get_or_create_theme",
    "get_owned_theme",
    "get_owned_variant",
    "list_themes",
    "list_variants",
    "rename_theme",
    "shorten",
    "theme_names",
]
