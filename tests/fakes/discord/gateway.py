"""The gateway websocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, chunks."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .state import INTENT_GUILDS, shard_of

if TYPE_CHECKING:
    from .server import FakeDiscord

_log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME = 0, 1, 2, 3, 6
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
INTENT_GUILD_MEMBERS = 1 << 1


class GatewaySession:
    """One identified shard session; survives a dropped socket so it can be resumed."""

    def __init__(self, shard_id: int, shard_count: int, identify: dict[str, Any]) -> None:
        self.session_id = secrets.token_hex(16)
        self.shard_id = shard_id
        self.shard_count = shard_count
        self.identify = identify
        self.intents: int = int(identify.get("intents", 0))
        self.token: str = identify.get("token", "")
        self.ws: web.WebSocketResponse | None = None
        self.seq = 0
        self.history: list[dict[str, Any]] = []
        self.guilds_sent = False
        self.resumes = 0
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    async def send(self, payload: dict[str, Any]) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        async with self._lock:
            await ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.history.append(payload)
        await self.send(payload)


class Gateway:
    """Websocket handler bound to a FakeDiscord."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.connections = 0

    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.connected]

    def session_for(self, guild_id: str | None) -> GatewaySession | None:
        """The connected session serving the shard of ``guild_id`` (DMs → shard 0)."""
        shard = shard_of(guild_id, self.fake.shard_count)
        for session in reversed(list(self.sessions.values())):
            if session.shard_id == shard and session.connected:
                return session
        return None

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connections += 1
        self.fake.gateway_queries.append(dict(request.query))
        hello = {"heartbeat_interval": self.fake.heartbeat_interval_ms, "_trace": ["fake"]}
        await ws.send_str(json.dumps({"op": HELLO, "d": hello, "s": None, "t": None}))
        session: GatewaySession | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                op, d = data.get("op"), data.get("d")
                if op == HEARTBEAT:
                    await self._send(ws, session, {"op": HEARTBEAT_ACK})
                elif op == IDENTIFY:
                    session = await self._identify(ws, d or {})
                elif op == RESUME:
                    session = await self._resume(ws, d or {})
                elif op == REQUEST_MEMBERS and session is not None:
                    await self._members_chunk(session, d or {})
                elif op == PRESENCE:
                    continue
                else:
                    self.fake.violations.append(f"gateway: unexpected op {op}")
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
            await self.fake.notify()
        return ws

    @staticmethod
    async def _send(
        ws: web.WebSocketResponse, session: GatewaySession | None, payload: dict[str, Any]
    ) -> None:
        if session is not None and session.ws is ws:
            await session.send(payload)
        elif not ws.closed:
            await ws.send_str(json.dumps(payload))

    async def _identify(
        self, ws: web.WebSocketResponse, d: dict[str, Any]
    ) -> GatewaySession | None:
        fake = self.fake
        if d.get("token") != fake.token:
            fake.violations.append("gateway: IDENTIFY with a wrong token")
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard_id, shard_count = d.get("shard") or [0, 1]
        if shard_count != fake.shard_count or not 0 <= shard_id < shard_count:
            fake.violations.append(f"gateway: invalid shard {[shard_id, shard_count]}")
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        session = GatewaySession(shard_id, shard_count, d)
        session.ws = ws
        self.sessions[session.session_id] = session
        fake.identifies.append(
            {"token": d.get("token"), "shard": [shard_id, shard_count], "intents": session.intents}
        )
        guilds = [g for g in fake.guilds.values() if shard_of(g.id, shard_count) == shard_id]
        ready = {
            "v": 10,
            "user": dict(fake.bot_user),
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": fake.gateway_url,
            "shard": [shard_id, shard_count],
            "application": {"id": fake.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "_trace": ["fake"],
        }
        await session.dispatch("READY", ready)
        if session.intents & INTENT_GUILDS:
            for guild in guilds:
                await session.dispatch("GUILD_CREATE", self.guild_create(guild.id, session))
        session.guilds_sent = True
        await fake.notify()
        return session

    def guild_create(
        self, guild_id: str, session: GatewaySession, *, joined: bool = False
    ) -> dict[str, Any]:
        """A guild's GUILD_CREATE. At connect it fills in a guild READY listed as unavailable
        (``unavailable: false``); for a server the bot was just added to (``joined``) Discord
        leaves ``unavailable`` out, which is how clients tell a join (discord.py:
        ``on_guild_join``) from a guild coming back."""
        fake = self.fake
        guild = fake.guilds[guild_id]
        bot_member = guild.members[fake.bot_user["id"]]
        members = (
            list(guild.members.values()) if session.intents & INTENT_GUILD_MEMBERS else [bot_member]
        )
        channels = [fake.channels[cid] for cid in guild.channel_ids]
        data = guild.payload()
        data.update(
            {
                "channels": [c for c in channels if c["type"] not in (10, 11, 12)],
                "threads": [c for c in channels if c["type"] in (10, 11, 12)],
                "members": [m.payload() for m in members],
                "member_count": len(guild.members),
                "joined_at": bot_member.joined_at,
                "large": False,
                "unavailable": False,
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "embedded_activities": [],
            }
        )
        if joined:
            del data["unavailable"]
        return data

    async def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> GatewaySession | None:
        session = self.sessions.get(str(d.get("session_id")))
        if session is None or d.get("token") != self.fake.token:
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False, "s": None, "t": None}))
            return None
        session.ws = ws
        session.resumes += 1
        seq = int(d.get("seq") or 0)
        for payload in [p for p in session.history if p["s"] > seq]:
            await session.send(payload)
        await session.dispatch("RESUMED", {"_trace": ["fake"]})
        await self.fake.notify()
        return session

    async def _members_chunk(self, session: GatewaySession, d: dict[str, Any]) -> None:
        guild = self.fake.guilds.get(str(d.get("guild_id")))
        if guild is None:
            return
        members = list(guild.members.values())
        if d.get("user_ids"):
            wanted = {str(u) for u in d["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif d.get("query"):
            query = str(d["query"]).lower()
            members = [m for m in members if m.user["username"].lower().startswith(query)]
        limit = int(d.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": guild.id,
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def drop(self, shard_id: int, code: int = 4000) -> None:
        """Close the socket of a shard's live session (the client should RESUME)."""
        for session in self.live_sessions():
            if session.shard_id == shard_id and session.ws is not None:
                await session.ws.close(code=code, message=b"dropped by test")

    async def close_all(self) -> None:
        for session in self.live_sessions():
            if session.ws is not None:
                await session.ws.close(code=1001, message=b"server stopping")
