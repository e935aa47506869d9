"""What the server holds for a room, read by the harness's own minimal reader.

The checker's "what the server holds" must not come through the library under
test: with ``system.client``'s recovery cut to one page, a reader built on it
was cut too, and the checker blamed the server (a false ``lost_by_server``).
So this reader speaks the wire contract itself: the generated gate stub, one
anonymous ``CallObject`` per page, its own paging (``after_seq`` of the last
message until ``has_more`` is false), and a retry of transient codes until a
deadline. It shares nothing with ``system.client`` but the generated messages.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import grpc
from google.protobuf import any_pb2

from system import auth, tls
from system.contract import ROOM_PREFIX
from system.grpcopts import Keepalive
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from system.tls import ClientTls

#: Codes a gate answers while a node restarts, a room moves or a link heals: ask again.
TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                       grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED})


class ReadFailed(Exception):
    """The room could not be read before the deadline; the run has no word on what the server holds."""


def page_request(room: str, after_seq: int, limit: int) -> gate_pb2.CallObjectRequest:
    """One anonymous page request (no client id: the reader has no push stream and needs none)."""
    packed = any_pb2.Any()
    packed.Pack(chat_pb2.ChatRoom_GetRecentMessagesRequest(after_seq=after_seq, limit=limit))
    return gate_pb2.CallObjectRequest(client_id="", type="ChatRoom", id=ROOM_PREFIX + room,
                                      method="GetRecentMessages", request=packed)


def unpack_page(reply: gate_pb2.CallObjectResponse) -> chat_pb2.ChatRoom_GetRecentMessagesResponse:
    page = chat_pb2.ChatRoom_GetRecentMessagesResponse()
    if not reply.response.Unpack(page):
        raise ReadFailed(f"GetRecentMessages answered {reply.response.type_url!r}")
    return page


async def read_room(addr: str, room: str, keepalive: Keepalive, token: str | None = None,
                    tls_config: ClientTls | None = None, *, limit: int = 0, deadline: float = 30.0,
                    call_timeout: float = 5.0) -> list[dict[str, Any]]:
    """Every message the server holds for ``room``, page by page, as ``{seq, client_msg_id, sender}``.

    ``limit`` is the page size asked for (0: the server's own); a page from another store epoch than the
    first starts the reading again, so the list is one history's."""
    metadata = [(auth.SESSION_HEADER, secrets.token_urlsafe(18))]
    if token:
        metadata.append((auth.AUTH_HEADER, f"Bearer {token}"))
    channel = tls.channel(addr, tls_config, keepalive.channel_options())
    stub = gate_pb2_grpc.GateServiceStub(channel)
    until = time.monotonic() + deadline
    try:
        held: dict[int, dict[str, Any]] = {}
        after, epoch = 0, None
        while True:
            page = await _page(stub, room, after, limit, tuple(metadata), until, call_timeout)
            if epoch is not None and page.store_epoch != epoch:
                held, after, epoch = {}, 0, None  # the room moved to another history mid-read: read that one
                continue
            epoch = page.store_epoch
            for m in page.messages:
                held[m.seq] = {"seq": m.seq, "client_msg_id": m.client_msg_id, "sender": m.user_name}
            if not page.has_more or not page.messages:
                return [held[s] for s in sorted(held)]
            after = page.messages[-1].seq
    finally:
        await channel.close()


async def _page(stub: gate_pb2_grpc.GateServiceStub, room: str, after: int, limit: int,
                metadata: tuple[tuple[str, str], ...], until: float,
                call_timeout: float) -> chat_pb2.ChatRoom_GetRecentMessagesResponse:
    """One page, asked again on a transient code (capped backoff) until ``until``."""
    wait = 0.05
    while True:
        try:
            return unpack_page(await stub.CallObject(page_request(room, after, limit), timeout=call_timeout,
                                                     metadata=metadata))
        except grpc.aio.AioRpcError as exc:
            left = until - time.monotonic()
            if exc.code() not in TRANSIENT or left <= 0:
                raise ReadFailed(f"reading room {room!r} after seq {after}: {exc.code().name}: {exc.details()}"
                                 ) from None
            await asyncio.sleep(min(wait, left))  # backoff between attempts, bounded by the deadline
            wait = min(wait * 2, 1.0)
