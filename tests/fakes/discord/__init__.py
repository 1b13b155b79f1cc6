"""A fake Discord (REST + gateway + CDN) that real discord.py connects to; see server.py."""

from .interactions import FakeInteraction
from .messages import DiscordHTTPError
from .rest import RecordedRequest
from .server import FakeDiscord, shard_for_guild
from .state import DEFAULT_MEMBER_PERMISSIONS, FakeGuild, FakeMember

__all__ = [
    "DEFAULT_MEMBER_PERMISSIONS",
    "DiscordHTTPError",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "RecordedRequest",
    "shard_for_guild",
]
