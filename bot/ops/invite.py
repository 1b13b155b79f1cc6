"""The invite link and the Discord permissions the bot's features use.

Only what the code needs: replies to slash commands go through the interaction webhook and
need no permission; the rest is posting in channels (a character's card when the interaction
token expired, the showcase channel), the thread opened on a character's card and the
messages posted in it, with embeds and image files, and in a conversation the replies to
members' messages (a reply needs Read Message History).
"""

from __future__ import annotations

import discord

#: The OAuth2 scopes of the invite: the bot user and its slash commands.
SCOPES = ("bot", "applications.commands")

#: What the bot needs in a channel it posts in (the showcase channel, a command's channel).
POSTING = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, attach_files=True
)

#: What the invite asks for: posting, plus the character's thread, the messages in it, and the
#: replies to members' messages there.
REQUESTED = POSTING | discord.Permissions(
    create_public_threads=True, send_messages_in_threads=True, read_message_history=True
)


def invite_url(application_id: int | str) -> str:
    """The link that adds the bot to a server with its scopes and permissions."""
    return discord.utils.oauth_url(application_id, permissions=REQUESTED, scopes=SCOPES)


def permission_names(value: int) -> list[str]:
    """The names of the permissions in ``value`` as Discord's settings show them
    ("Send Messages"), in bit order."""
    names: dict[int, str] = {}
    for flag, bit in sorted(discord.Permissions.VALID_FLAGS.items(), key=lambda item: item[1]):
        if value & bit and bit not in names:
            names[bit] = _LABELS.get(bit, flag.replace("_", " ").title())
    return list(names.values())


_LABELS = {
    discord.Permissions.VALID_FLAGS["view_channel"]: "View Channel",
    discord.Permissions.VALID_FLAGS["send_messages_in_threads"]: "Send Messages in Threads",
    discord.Permissions.VALID_FLAGS["create_public_threads"]: "Create Public Threads",
}
