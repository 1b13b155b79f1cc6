"""Moderation: /mod setup, unpublish, user, log and reports."""

from cogs.moderation.commands import setup

__all__ = ["setup"]
