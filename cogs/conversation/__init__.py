"""The conversation: a character's thread (or a DM with the bot) where the owner's messages
are edit instructions, others' are suggestions, and every progress message can be cancelled.

The extension is ``cogs.conversation.listener``: this package imports nothing itself, so the
character flows can use its Cancel button (``cogs.conversation.cancel``) without loading the
rest of the feature, which builds on theirs."""
