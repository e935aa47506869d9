"""What a room's membership costs as it grows: joins, their notifications, and the member list.

``python -m system.room_bench --members 1000,5000,10000`` joins N members
into one room, one after another, in-process (the room's own logic on the
memory store, no sockets: what the node's CPU does per join), then polls
once. Each join pushes a notification to every other member and replies
with the whole member list, and each poll reply carries the list too, so
a room's joins cost grows with the square of its size; this prints by how
much, for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass

from google.protobuf import any_pb2
from google.protobuf.message import Message

from system.objects import CallInfo, ObjectHost
from system.pb import chat_pb2
from system.push import PushError, PushMeta
from system.room import RoomConfig, install
from system.store import make_store

ROOM = "ChatRoom-General"


class _CountingPort:
    """Where the room's pushes go: counted (one delivery per recipient), never sent."""

    def __init__(self) -> None:
        self.deliveries = 0

    def push(self, client_ids: list[str], message: Message, meta: PushMeta) -> list[PushError]:
        self.deliveries += len(client_ids)
        return []


@dataclass(frozen=True)
class Growth:
    """One room grown to ``members``."""

    members: int
    seconds: float              # joining them all, one after another
    last_join_ms: float         # mean over the last tenth of the joins
    notifications: int          # join notifications pushed (one per recipient)
    reply_mb: float             # all the join replies, serialised
    last_reply_kb: float        # the last join's reply
    poll_reply_kb: float        # a poll of the full room (no messages in it)


async def _call(host: ObjectHost, method: str, request: Message, member: int) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(request)
    return await host.call("ChatRoom", ROOM, method, packed, CallInfo(f"127.0.0.1:1/m{member}", f"u{member}"))


async def grow(members: int) -> Growth:
    """Join ``members`` members into a fresh room and measure it."""
    host, port = ObjectHost(), _CountingPort()
    install(host, RoomConfig(), port, make_store("memory"))
    reply_bytes, last = 0, 0
    tail_from = members - max(1, members // 10)
    started = time.perf_counter()
    tail_started = started
    for i in range(members):
        if i == tail_from:
            tail_started = time.perf_counter()
        reply = await _call(host, "Join", chat_pb2.ChatRoom_JoinRequest(user_name=f"u{i}",
                                                                        client_id=f"127.0.0.1:1/m{i}"), i)
        last = len(reply.value)
        reply_bytes += last
    ended = time.perf_counter()
    poll = await _call(host, "GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest(), 0)
    return Growth(members=members, seconds=ended - started,
                  last_join_ms=(ended - tail_started) / (members - tail_from) * 1e3,
                  notifications=port.deliveries, reply_mb=reply_bytes / 1e6, last_reply_kb=last / 1e3,
                  poll_reply_kb=len(poll.value) / 1e3)


def table(rows: list[Growth]) -> str:
    """The rows as a Markdown table."""
    lines = ["| members | joining all (s) | one join at the end (ms) | join notifications pushed | "
             "join replies (MB) | last join reply (KB) | poll reply (KB) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.members:,} | {r.seconds:.2f} | {r.last_join_ms:.2f} | {r.notifications:,} | "
              f"{r.reply_mb:,.1f} | {r.last_reply_kb:,.1f} | {r.poll_reply_kb:,.1f} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m system.room_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="1000,5000,10000", help="room sizes, comma-separated")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.members.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--members: want numbers separated by commas, got {args.members!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--members: want at least one size, each at least 1")
    rows = []
    for size in sizes:
        print(f"joining {size:,} members ...", file=sys.stderr, flush=True)
        rows.append(asyncio.run(grow(size)))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
