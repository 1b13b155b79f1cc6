"""Discord-free use cases of a character's conversation (its thread, or a DM with the bot):
the image a message edits, the instruction it gives, suggestions, and what the buttons under a
variant do."""
