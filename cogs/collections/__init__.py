"""Collections: /collection create, add, remove, show, list and delete."""

from cogs.collections.commands import setup

__all__ = ["setup"]
