"""Members talking in channels: a message a member (or another bot) posts, dispatched to the bot
as MESSAGE_CREATE the way Discord does it, and DM channels a member opens with the bot.

What the bot receives follows Discord's Message Content rules: without the privileged intent
(``INTENT_MESSAGE_CONTENT``) the content, embeds, attachments and components of a message
arrive empty, unless the message is in a DM with the bot, mentions the bot (a reply with its
mention left on lists the replied-to author in ``mentions``), or is the bot's own. The bot's
identify intents are kept in ``fake.identifies``; :func:`identified_intents` reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .state import FakeMember, dm_channel_payload

if TYPE_CHECKING:
    from .server import FakeDiscord

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19


def identified_intents(fake: FakeDiscord) -> list[int]:
    """The intents of every IDENTIFY the bot sent, in order."""
    return [int(entry["intents"]) for entry in fake.identifies]


def open_dm(fake: FakeDiscord, user: dict[str, Any] | FakeMember) -> dict[str, Any]:
    """The DM channel between ``user`` and the bot (made when missing), as Discord stores it."""
    payload = user.user if isinstance(user, FakeMember) else user
    user_id = str(payload["id"])
    fake.users.setdefault(user_id, dict(payload))
    channel_id = fake.dm_channels.get(user_id)
    if channel_id is None:
        channel_id = fake.ids.next()
        fake.channels[channel_id] = dm_channel_payload(channel_id, fake.users[user_id])
        fake.dm_channels[user_id] = channel_id
    return fake.channels[channel_id]


def _author_of(who: dict[str, Any] | FakeMember) -> dict[str, Any]:
    return dict(who.user if isinstance(who, FakeMember) else who)


async def post_user_message(
    fake: FakeDiscord,
    channel_id: str,
    who: dict[str, Any] | FakeMember,
    content: str = "",
    *,
    mention_bot: bool = False,
    reply_to: dict[str, Any] | None = None,
    reply_mention: bool = True,
) -> dict[str, Any]:
    """A message ``who`` sends in the channel: stored (the bot may reply to it, fetch it) and
    dispatched to the bot as MESSAGE_CREATE.

    ``mention_bot`` puts ``<@bot>`` in front of the text; ``reply_to`` makes it a reply to
    that stored message, pinging its author unless ``reply_mention`` is False (the member
    turned the mention off). Returns the message as stored (full content)."""
    channel = fake.channels.get(str(channel_id))
    if channel is None:
        raise ValueError(f"unknown channel {channel_id}")
    author = _author_of(who)
    bot_id = fake.bot_user["id"]
    message = fake.new_message(channel["id"], author)
    text = f"<@{bot_id}> {content}".strip() if mention_bot else content
    message["content"] = text
    mentions: list[dict[str, Any]] = []
    if mention_bot:
        mentions.append(dict(fake.bot_user))
    if reply_to is not None:
        message["type"] = MESSAGE_REPLY
        message["message_reference"] = {
            "type": 0,
            "message_id": reply_to["id"],
            "channel_id": reply_to["channel_id"],
            **({"guild_id": channel["guild_id"]} if channel.get("guild_id") else {}),
        }
        replied_author = reply_to["author"]
        if reply_mention and all(m["id"] != replied_author["id"] for m in mentions):
            mentions.append(dict(replied_author))
    message["mentions"] = mentions
    fake.add_message(message)
    await _dispatch_message(fake, channel, message, reply_to)
    return message


async def _dispatch_message(
    fake: FakeDiscord,
    channel: dict[str, Any],
    message: dict[str, Any],
    reply_to: dict[str, Any] | None,
) -> None:
    guild_id = channel.get("guild_id")
    session = fake.gateway.session_for(guild_id)
    if session is None:
        return
    data = _as_received(fake, message, session.intents, in_dm=not guild_id)
    if reply_to is not None:
        stored = fake.messages.get(str(reply_to["id"]), reply_to)
        data["referenced_message"] = _as_received(fake, stored, session.intents, in_dm=not guild_id)
    if guild_id:
        data["guild_id"] = guild_id
        member = fake.guilds[guild_id].members.get(message["author"]["id"])
        if member is not None:
            data["member"] = member.payload(with_user=False)
    await fake.dispatch(guild_id, "MESSAGE_CREATE", data)


def _as_received(
    fake: FakeDiscord, message: dict[str, Any], intents: int, *, in_dm: bool
) -> dict[str, Any]:
    """The message as a bot with ``intents`` receives it (Message Content rules applied)."""
    data = dict(message)
    bot_id = fake.bot_user["id"]
    readable = (
        bool(intents & INTENT_MESSAGE_CONTENT)
        or in_dm
        or message["author"]["id"] == bot_id
        or any(m["id"] == bot_id for m in message.get("mentions") or [])
    )
    if not readable:
        data.update(content="", embeds=[], attachments=[], components=[])
    return data
