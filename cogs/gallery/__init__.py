"""The gallery: /gallery browse and user, their pagers, and the guild's showcase channel."""

from cogs.gallery.commands import setup

__all__ = ["setup"]
