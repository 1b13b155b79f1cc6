"""Characters: /character create, show, list, edit, regenerate, delete, publish, unpublish,
export and import; the character buttons, the generation flows and the delete confirmation."""

from cogs.characters.commands import provide, setup

__all__ = ["provide", "setup"]
