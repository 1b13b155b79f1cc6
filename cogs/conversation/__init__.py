"""The conversation: a character's thread (or a DM with the bot) where the owner's messages
are edit instructions, others' are suggestions, and every progress message can be cancelled."""

from cogs.conversation.listener import setup

__all__ = ["setup"]
