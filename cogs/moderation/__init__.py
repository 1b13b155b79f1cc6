"""Moderation: /mod setup, unpublish, user and log."""

from cogs.moderation.commands import setup

__all__ = ["setup"]
