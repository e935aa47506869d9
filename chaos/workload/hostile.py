"""A hostile member: a client that attacks the others instead of chatting, and records how each attack fared.

It speaks gRPC with bare stubs, as anyone could, through its own proxy
(``client-NAME``). Round after round during the workload it tries each
attack of :data:`ATTACKS` against a connected honest member (whose client
id it is assumed to have sniffed), and records ``f: attack``: ``invoke``,
then ``fail`` with the gRPC code that refused it, ``ok`` if it went
through (the checker's ``hostile`` rule makes that a violation), or
``info`` if the link failed first. It never joins or sends as itself, so
it is no member the checker expects anything of.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2

from chaos.history import History
from system import auth
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from system.room import ROOM_PREFIX
from system.tls import ClientTls, channel

#: A refusal by the gate or node; anything else that fails (UNAVAILABLE, a timeout) says nothing.
REFUSALS = frozenset({grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
                      grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT,
                      grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION})
ATTACKS = ("delete_room", "create_room", "impersonate", "impersonate_registered", "hijack_call", "hijack_join",
           "join_as_victim", "flood", "session_rotation", "member_flood", "nul_poison", "name_games",
           "cross_site_fault_post", "expired_token", "forged_token")
TOKEN_ATTACKS = ("expired_token", "forged_token")  # only where tokens are checked
CALL_TIMEOUT = 3.0
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


class Accepted(Exception):
    """The attack went through; ``what`` says what it did."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass
class Victim:
    name: str
    client_id: str


def _packed(message: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(message)
    return out


@dataclass
class HostileClient:
    """One attacker. ``victims()`` names the honest members connected now, with their client ids."""

    name: str
    addr: str
    history: History
    rooms: list[str]
    victims: Callable[[], list[Victim]]
    token: str | None = None          # its own valid token (--auth token)
    expired: Callable[[str], str | None] = lambda user: None  # an expired token for a user, to replay
    forged: Callable[[str], str | None] = lambda user: None   # a token signed with another secret
    tls: ClientTls | None = None
    fault_controls: Callable[[], list[str]] = lambda: []  # the servers' fault-control addresses (HOST:PORT)
    flood_calls: int = 60
    attempts: int = 0
    _channel: grpc.aio.Channel | None = field(default=None, init=False)
    _stream: Any = field(default=None, init=False)
    _client_id: str = field(default="", init=False)

    @property
    def attacks(self) -> tuple[str, ...]:
        """The rotation: with tokens, the token attacks go first, so that a short run (a few attacks
        on a loaded machine) still tries what only a token-checking system can be asked."""
        others = tuple(a for a in ATTACKS if a not in TOKEN_ATTACKS)
        return TOKEN_ATTACKS + others if self.token else others

    def _metadata(self, token: str | None = None, session: bool | str = True) -> tuple[tuple[str, str], ...]:
        """Our headers; ``session``: our own session value, none (False), or the one given."""
        value = session if isinstance(session, str) else f"{self.name}-session"
        out = [(auth.SESSION_HEADER, value)] if session else []
        token = token or self.token
        if token:
            out.append((auth.AUTH_HEADER, f"Bearer {token}"))
        return tuple(out)

    def _new_channel(self) -> grpc.aio.Channel:
        return channel(self.addr, self.tls, [("grpc.use_local_subchannel_pool", 1)])

    async def run(self, until: float, interval: float = 0.2) -> None:
        """Attack round-robin until ``until`` (monotonic); each attack recorded as it ends."""
        try:
            i = 0
            while time.monotonic() < until:
                await self.attempt(self.attacks[i % len(self.attacks)])
                i += 1
                await asyncio.sleep(min(interval, max(0.0, until - time.monotonic())))
        finally:
            await self.close()

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
        if self._channel is not None:
            await self._channel.close()
        self._channel, self._stream, self._client_id = None, None, ""

    async def attempt(self, kind: str) -> None:
        victims = self.victims()
        if not victims:
            return
        victim = victims[self.attempts % len(victims)]
        room = self.rooms[self.attempts % len(self.rooms)]
        self.attempts += 1
        value = {"attack": kind, "victim": victim.name, "room": room}
        self.history.invoke(self.name, "attack", value)
        try:
            await getattr(self, f"_{kind}")(victim, room)
        except Accepted as yes:
            self.history.ok(self.name, "attack", {**value, "what": yes.what})
        except grpc.aio.AioRpcError as exc:
            detail = {**value, "code": exc.code().name, "error": (exc.details() or "")[:200]}
            if exc.code() in REFUSALS:
                self.history.fail(self.name, "attack", detail)
            else:  # the link, not the gate: drop our connection and try again next time
                self.history.info(self.name, "attack", detail)
                await self.close()
        except (asyncio.TimeoutError, ConnectionError) as exc:
            self.history.info(self.name, "attack", {**value, "error": f"{type(exc).__name__}: {exc}"})
            await self.close()

    # -- the means ------------------------------------------------------------------------------
    async def _registered(self) -> tuple[gate_pb2_grpc.GateServiceStub, str]:
        """Our own channel and Register stream (made once, again after a link failure)."""
        if self._channel is None:
            self._channel = self._new_channel()
            stub = gate_pb2_grpc.GateServiceStub(self._channel)
            self._stream = stub.Register(gate_pb2.Empty(), metadata=self._metadata())
            async with asyncio.timeout(CALL_TIMEOUT):
                first = await self._stream.read()
            registered = gate_pb2.RegisterResponse()
            if first is grpc.aio.EOF or not first.Unpack(registered):
                await self.close()
                raise ConnectionError("the gate sent no client id")
            self._client_id = registered.client_id
        return gate_pb2_grpc.GateServiceStub(self._channel), self._client_id

    async def _call(self, stub: gate_pb2_grpc.GateServiceStub, room: str, method: str, request: Any,
                    client_id: str = "", token: str | None = None, session: bool | str = True) -> None:
        await stub.CallObject(gate_pb2.CallObjectRequest(client_id=client_id, type="ChatRoom", id=ROOM_PREFIX + room,
                                                         method=method, request=_packed(request)),
                              metadata=self._metadata(token, session), timeout=CALL_TIMEOUT)

    async def _delete_room(self, victim: Victim, room: str) -> None:
        stub, _ = await self._registered()
        await stub.DeleteObject(gate_pb2.DeleteObjectRequest(id=ROOM_PREFIX + room), metadata=self._metadata(),
                                timeout=CALL_TIMEOUT)
        raise Accepted(f"deleted room {room}")

    async def _create_room(self, victim: Victim, room: str) -> None:
        stub, _ = await self._registered()
        await stub.CreateObject(gate_pb2.CreateObjectRequest(type="ChatRoom", id=f"{ROOM_PREFIX}{self.name}-lair"),
                                metadata=self._metadata(), timeout=CALL_TIMEOUT)
        raise Accepted("created a room")

    async def _impersonate(self, victim: Victim, room: str) -> None:
        """Speak as the victim from a connection that never registered."""
        async with self._new_channel() as ch:
            stub = gate_pb2_grpc.GateServiceStub(ch)
            await self._call(stub, room, "SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
                user_name=victim.name, message=f"{self.name} posing as {victim.name}"), session=False)
        raise Accepted(f"stored a message as {victim.name}'s")

    async def _impersonate_registered(self, victim: Victim, room: str) -> None:
        stub, mine = await self._registered()
        await self._call(stub, room, "SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
            user_name=victim.name, message=f"{self.name} posing as {victim.name}"), mine)
        raise Accepted(f"stored a message as {victim.name}'s")

    async def _hijack_call(self, victim: Victim, room: str) -> None:
        stub, _ = await self._registered()
        await self._call(stub, room, "Join", chat_pb2.ChatRoom_JoinRequest(user_name=self.name), victim.client_id)
        raise Accepted(f"called as {victim.name}'s client {victim.client_id}")

    async def _hijack_join(self, victim: Victim, room: str) -> None:
        stub, _ = await self._registered()
        await self._call(stub, room, "Join", chat_pb2.ChatRoom_JoinRequest(user_name=self.name,
                                                                           client_id=victim.client_id))
        raise Accepted(f"joined with {victim.name}'s client id")

    async def _join_as_victim(self, victim: Victim, room: str) -> None:
        """Move the victim's pushes to our own stream."""
        stub, mine = await self._registered()
        await self._call(stub, room, "Join", chat_pb2.ChatRoom_JoinRequest(user_name=victim.name, client_id=mine),
                         mine)
        raise Accepted(f"moved {victim.name}'s pushes to its own stream")

    async def _flood(self, victim: Victim, room: str) -> None:
        """All at once: one after another, on a loaded machine, the calls can be slower than the rate
        limit refills, and that is no flood."""
        stub, _ = await self._registered()
        await self._all_at_once(lambda i: self._call(stub, room, "GetRecentMessages",
                                                     chat_pb2.ChatRoom_GetRecentMessagesRequest(limit=1)), "calls")

    async def _session_rotation(self, victim: Victim, room: str) -> None:
        """A flood with a fresh session value on every call, as if each were another client."""
        stub, _ = await self._registered()
        await self._all_at_once(lambda i: self._call(stub, room, "GetRecentMessages",
                                                     chat_pb2.ChatRoom_GetRecentMessagesRequest(limit=1),
                                                     session=f"{self.name}-{self.attempts}-{i}"),
                                "calls, each with a fresh session value,")

    async def _member_flood(self, victim: Victim, room: str) -> None:
        """Made-up members, each with a fresh session value: the room's member list is what it costs."""
        stub, _ = await self._registered()
        await self._all_at_once(lambda i: self._call(stub, room, "Join", chat_pb2.ChatRoom_JoinRequest(
            user_name=f"{self.name}x{self.attempts}x{i}"), session=f"{self.name}-{self.attempts}-{i}"),
                                "joins with made-up names")

    async def _all_at_once(self, one: Callable[[int], Any], what: str) -> None:
        outcomes = await asyncio.gather(*(one(i) for i in range(self.flood_calls)), return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        limited = [e for e in errors if isinstance(e, grpc.aio.AioRpcError) and e.code() in REFUSALS]
        if limited or errors:
            raise (limited or errors)[0]
        raise Accepted(f"{self.flood_calls} {what} at once, none limited")

    async def _nul_poison(self, victim: Victim, room: str) -> None:
        """A message no store may hold ("\x00": PostgreSQL's TEXT refuses it) sent among honest sends: it must
        be refused at the door, and fail nobody else's send in the same group commit."""
        stub, mine = await self._registered()
        await self._call(stub, room, "SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
            user_name=self.name, message=f"poison\x00from {self.name}"), mine)
        raise Accepted("stored a message holding a NUL character")

    async def _name_games(self, victim: Victim, room: str) -> None:
        """The victim's name with a hidden character in it, or a look-alike letter: each must be refused."""
        stub, _ = await self._registered()
        games = [f"{victim.name}\u200b", f"\u202e{victim.name}", f"{victim.name}\x1b[2J",
                 victim.name.replace("a", "\u0430", 1) if "a" in victim.name else f"{victim.name}\u0430"]
        game = games[self.attempts % len(games)]
        await self._call(stub, room, "SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
            user_name=game, message=f"{self.name} as {game!r}"), session=False)
        raise Accepted(f"spoke as {game!r}, a name that looks like {victim.name}")

    async def _cross_site_fault_post(self, victim: Victim, room: str) -> None:
        """What a web page's form can send to a server's fault-control endpoint: a text/plain POST from another
        origin. Setting a fault this way would make honest members' calls fail."""
        import aiohttp  # the harness's HTTP client (and the embedded Toxiproxy's server)

        controls = self.fault_controls()
        if not controls:
            raise ConnectionError("no fault-control endpoint to try")
        target = controls[self.attempts % len(controls)]
        body = (f'{{"id": "{self.name}-{self.attempts}", "point": "rpc", "action": "abort", "method": "SendMessage", '
                '"percent": 100, "max_active_faults": 0}')
        form = {"Content-Type": "text/plain", "Origin": "http://evil.example", "User-Agent": BROWSER}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://{target}/faults", data=body, headers=form,
                                    timeout=aiohttp.ClientTimeout(CALL_TIMEOUT)) as reply:
                if reply.status >= 400:
                    raise grpc.aio.AioRpcError(grpc.StatusCode.PERMISSION_DENIED, grpc.aio.Metadata(),
                                               grpc.aio.Metadata(), f"HTTP {reply.status}: {await reply.text()}")
        raise Accepted(f"set a fault on {target} from a cross-site page")

    async def _expired_token(self, victim: Victim, room: str) -> None:
        """Replay an expired token of the victim's to register as the victim."""
        async with self._new_channel() as ch:
            stream = gate_pb2_grpc.GateServiceStub(ch).Register(
                gate_pb2.Empty(), metadata=self._metadata(self.expired(victim.name), session=False))
            try:
                async with asyncio.timeout(CALL_TIMEOUT):
                    await stream.read()
            finally:
                stream.cancel()
        raise Accepted(f"registered with {victim.name}'s expired token")

    async def _forged_token(self, victim: Victim, room: str) -> None:
        async with self._new_channel() as ch:
            await self._call(gate_pb2_grpc.GateServiceStub(ch), room, "SendMessage",
                             chat_pb2.ChatRoom_SendChatMessageRequest(message="forged"), token=self.forged(victim.name),
                             session=False)
        raise Accepted(f"used a forged token for {victim.name}")
