"""The install links and the Discord permissions the bot's features use.

The app installs two ways (``integration_type``): to a server (0: the bot user joins, with
the permissions below) and to a member's own account (1: the commands follow them into DMs,
private channels and servers the bot is not in; no bot user, so no permissions). Each link
names its type, so neither depends on the portal's default install settings.

Only what the code needs: replies to slash commands go through the interaction webhook and
need no permission; the rest is posting in channels (a character's card when the interaction
token expired, the showcase channel), the thread opened on a character's card and the
messages posted in it, with embeds and image files, in a conversation the replies to
members' messages (a reply needs Read Message History), and the channel webhook that
``/character say`` speaks through (Manage Webhooks).
"""

from __future__ import annotations

from urllib.parse import urlencode

import discord

#: The OAuth2 scopes of the server install: the bot user and its slash commands.
SCOPES = ("bot", "applications.commands")
#: The OAuth2 scope of the install to a member's account: the commands only.
USER_SCOPES = ("applications.commands",)
AUTHORIZE = "https://discord.com/oauth2/authorize"
GUILD_INSTALL, USER_INSTALL = 0, 1

#: What the bot needs in a channel it posts in (the showcase channel, a command's channel).
POSTING = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, attach_files=True
)

#: What the invite asks for: posting, plus the character's thread, the messages in it, the
#: replies to members' messages there, and the channel webhook characters speak through.
REQUESTED = POSTING | discord.Permissions(
    create_public_threads=True,
    send_messages_in_threads=True,
    read_message_history=True,
    manage_webhooks=True,
)


def invite_url(application_id: int | str) -> str:
    """The link that adds the bot to a server with its scopes and permissions."""
    link = discord.utils.oauth_url(application_id, permissions=REQUESTED, scopes=SCOPES)
    return f"{link}&integration_type={GUILD_INSTALL}"


def user_install_url(application_id: int | str) -> str:
    """The link that installs the app to a member's own account (its commands everywhere)."""
    query = urlencode(
        {
            "client_id": str(application_id),
            "integration_type": USER_INSTALL,
            "scope": " ".join(USER_SCOPES),
        }
    )
    return f"{AUTHORIZE}?{query}"


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
    discord.Permissions.VALID_FLAGS["manage_webhooks"]: "Manage Webhooks",
}
