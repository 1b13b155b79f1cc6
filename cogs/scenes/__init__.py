"""Scenes: /scene create, list, show, delete, publish and unpublish; the scene's buttons, its
conversation and its gallery pages."""

from cogs.scenes.commands import setup

__all__ = ["setup"]
