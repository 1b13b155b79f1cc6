"""Themes and variants: /theme create, list, rename, delete; /variant create, list, delete; the
variant pager."""

from cogs.themes.commands import setup

__all__ = ["setup"]
