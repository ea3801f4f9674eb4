"""The fake Gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeat ACK, RESUME (with replay of
missed events), REQUEST_GUILD_MEMBERS, and dispatch of events to connected bots.

Frames are plain JSON text. discord.py asks for ``compress=zlib-stream`` (or ``zstd-stream``) in the URL
but only decompresses *binary* frames (``DiscordWebSocket.received_message``), so text frames work.
The fake never sends INVALID_SESSION: discord.py would then reconnect to the real
``wss://gateway.discord.gg``. A RESUME of an unknown session gets a fresh READY instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

# Opcodes
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
HELLO = 10
HEARTBEAT_ACK = 11

# Intents
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12

REPLAY_BUFFER = 1000


@dataclass(eq=False)
class GatewaySession:
    """A gateway session; it outlives its websocket so that a reconnecting bot can RESUME it."""

    session_id: str
    intents: int
    ws: web.WebSocketResponse | None = None
    seq: int = 0
    ready: bool = False
    identified_at_connection: int = 0
    resumes: int = 0
    buffer: list[tuple[int, str]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed and self.ready


class Gateway:
    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.sockets: set[web.WebSocketResponse] = set()
        self.connections = 0
        self.identifies = 0
        self.resumes = 0
        self.refused = 0  # connection attempts answered 503 while the fake was down
        self.received: list[dict[str, Any]] = []  # every non-heartbeat payload the bot sent

    # --- connection -------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._fake.is_down:
            self.refused += 1
            self._fake.notify()
            return web.json_response({"message": "Service Unavailable", "code": 0}, status=503)
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.sockets.add(ws)
        self.connections += 1
        log.debug("gateway connect query=%s", dict(request.query))
        session: GatewaySession | None = None
        try:
            hello = {"op": HELLO, "d": {"heartbeat_interval": self._fake.heartbeat_interval_ms}, "s": None, "t": None}
            await ws.send_str(json.dumps(hello))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                data = payload.get("d")
                if op == HEARTBEAT:
                    await ws.send_str(json.dumps({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None}))
                    continue
                self.received.append(payload)
                if op == IDENTIFY:
                    session = await self._identify(ws, data)
                elif op == RESUME:
                    session = await self._resume(ws, data)
                elif op == REQUEST_GUILD_MEMBERS and session is not None:
                    await self._request_members(session, data)
                if session is None and op in (IDENTIFY, RESUME):
                    break
        finally:
            self.sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                session.ready = False
            self._fake.notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        if data.get("token") != self._fake.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        self.identifies += 1
        # A fresh IDENTIFY starts a new session; disconnected ones will never be resumed.
        for sid in [s for s, sess in self.sessions.items() if sess.ws is None]:
            del self.sessions[sid]
        session = GatewaySession(session_id=secrets.token_hex(16), intents=int(data.get("intents") or 0))
        self.sessions[session.session_id] = session
        await self._send_ready(session, ws)
        return session

    async def _send_ready(self, session: GatewaySession, ws: web.WebSocketResponse) -> None:
        fake = self._fake
        async with session.lock:
            session.ws = ws
            ready = {
                "v": 10,
                "user": fake.bot_user.to_payload() | {"verified": True, "mfa_enabled": False, "email": None},
                "guilds": [{"id": str(fake.guild.id), "unavailable": True}],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": fake.gateway_url,
                "application": {"id": str(fake.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "user_settings": {},
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "auth": {},
            }
            await self._send_locked(session, "READY", ready)
            if session.intents & GUILDS:
                await self._send_locked(session, "GUILD_CREATE", fake.guild.to_payload())
            session.ready = True
        log.debug("gateway ready session_id=%s", session.session_id)
        fake.notify()

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        if data.get("token") != self._fake.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.ws is not None:
            # Unknown session: answer with a fresh READY (never INVALID_SESSION, see module docstring).
            intents = max((s.intents for s in self.sessions.values()), default=GUILDS | GUILD_MEMBERS | GUILD_MESSAGES)
            session = GatewaySession(session_id=secrets.token_hex(16), intents=intents)
            self.sessions[session.session_id] = session
            await self._send_ready(session, ws)
            return session
        self.resumes += 1
        session.resumes += 1
        last_seq = int(data.get("seq") or 0)
        async with session.lock:
            session.ws = ws
            for seq, frame in session.buffer:
                if seq > last_seq:
                    await ws.send_str(frame)
            await self._send_locked(session, "RESUMED", {})
            session.ready = True
        log.debug("gateway resumed session_id=%s from_seq=%s", session.session_id, last_seq)
        self._fake.notify()
        return session

    async def _request_members(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self._fake.guild
        members = guild.all_members()
        user_ids = data.get("user_ids")
        if user_ids:
            wanted = {int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [m for m in members if m.id in wanted]
        query = data.get("query") or ""
        members = [m for m in members if m.user.username.startswith(query)]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        async with session.lock:
            await self._send_locked(session, "GUILD_MEMBERS_CHUNK", chunk)

    # --- sending ----------------------------------------------------------------------------------
    async def _send_locked(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
        session.buffer.append((session.seq, frame))
        del session.buffer[:-REPLAY_BUFFER]
        ws = session.ws
        if ws is not None and not ws.closed:
            try:
                await ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                log.debug("gateway send failed session_id=%s event=%s", session.session_id, event)

    async def dispatch(self, event: str, data: Any, *, intent: int | None = None, only_one: bool = False) -> int:
        """Send ``event`` to every session that subscribed to ``intent``; disconnected sessions buffer it
        for a RESUME. Returns how many *connected* sessions got it."""
        delivered = 0
        for session in list(self.sessions.values()):
            if intent is not None and not session.intents & intent:
                continue
            if only_one and not session.connected:
                continue
            async with session.lock:
                await self._send_locked(session, event, data)
            delivered += int(session.connected)
            if only_one:
                break
        return delivered

    def connected_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.connected]

    async def send_reconnect(self) -> None:
        """Op 7 RECONNECT: the bot closes and RESUMEs."""
        for session in self.connected_sessions():
            assert session.ws is not None
            await session.ws.send_str(json.dumps({"op": RECONNECT, "d": None, "s": None, "t": None}))

    async def close_all(self, code: int = 1001) -> None:
        for ws in list(self.sockets):
            await ws.close(code=code, message=b"fake discord going away")
        for session in self.sessions.values():
            session.ws = None
            session.ready = False
