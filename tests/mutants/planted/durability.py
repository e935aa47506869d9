"""Planted bugs in durability and ownership: acknowledged before durable, the dedup window
forgotten, a failed write acknowledged, a deposed owner's write made.

Each registers itself with ``@mutant`` (:mod:`tests.mutants.base`) on import; :mod:`tests.mutants.registry`
imports this module.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from tests.mutants.base import mutant


# -- durability and ownership ------------------------------------------------------------------------------------
@mutant("ack_before_durable", "store acknowledges before durable", "the room acknowledges a send at once; the "
        "store writes it 0.5 s later", ("node-kill-restart",))
def _ack_before_durable() -> None:
    from system.room import ChatRoom
    from system.store.sqlite import SqliteStore
    write = SqliteStore.write

    async def lazy_write(self: Any, room: str, token: int, batch: Any) -> None:
        await asyncio.sleep(0.5)
        await write(self, room, token, batch)

    async def _settled(self: Any, done: Any, reply: Any) -> Any:
        return reply()

    SqliteStore.write = lazy_write
    ChatRoom._settled = _settled


def claims(forget_sent: bool) -> None:
    """Every store's ``claim`` wrapped; ``forget_sent``: the record it returns has no dedup window (the ids of the
    newest sends), as if the store never read it back, so a retry after a restart or reload is stored anew."""
    import dataclasses
    from system.store.memory import MemoryStore
    from system.store.postgres import PostgresStore
    from system.store.sqlite import SqliteStore
    for cls in (SqliteStore, PostgresStore, MemoryStore):
        def wrap(claim: Callable[..., Any]) -> Callable[..., Any]:
            async def _claim(self: Any, *args: Any, **kwargs: Any) -> Any:
                record = await claim(self, *args, **kwargs)
                return dataclasses.replace(record, sent=[]) if forget_sent and record is not None else record
            return _claim
        cls.claim = wrap(cls.claim)


@mutant("dedup_forgotten_on_restart", "dedup window forgotten on restart", "a room taken from the store (at a "
        "restart, or reloaded after a failed write) has forgotten the ids of its newest sends",
        ("store-fail-restart",))
def _dedup_forgotten_on_restart() -> None:
    claims(forget_sent=True)


def writes(swallow: bool) -> None:
    """The room writer's store write wrapped; ``swallow``: a failed write (not a fenced one) is taken as durable."""
    from system.store import Fenced
    from system.store.writer import RoomWriter
    write = RoomWriter._write

    async def _write(self: Any, batch: Any, changes: list) -> Any:
        failure = await write(self, batch, changes)
        return None if swallow and failure is not None and not isinstance(failure, Fenced) else failure

    RoomWriter._write = _write


@mutant("store_error_swallowed", "failed store write acknowledged", "the room writer swallows a failed store "
        "write: the send is acknowledged and pushed, though the store never made it durable",
        ("store-fail-restart",))
def _store_error_swallowed() -> None:
    writes(swallow=True)


def fences(removed: bool) -> None:
    """Every store's ``write`` wrapped; ``removed``: a write refused as fenced (an older claim's token) is made
    anyway under the room's current token. Messages are still held back by the sequence check and the
    primary key; member and read-position changes are not."""
    from system.store import Fenced
    from system.store.memory import MemoryStore
    from system.store.postgres import PostgresStore
    from system.store.sqlite import SqliteStore

    async def token_pg(self: Any, room: str) -> int:
        async def body(db: Any) -> int:
            return await db.fetchval("SELECT token FROM pushchat_rooms WHERE name = $1", room)
        return await self._transact(f"reading room {room!r}'s token", body)

    async def token_sqlite(self: Any, room: str) -> int:
        row = await self._run(lambda db: db.execute("SELECT token FROM rooms WHERE name = ?", (room,)).fetchone())
        return row[0]

    async def token_memory(self: Any, room: str) -> int:
        return self._rooms[room].token

    for cls, current in ((PostgresStore, token_pg), (SqliteStore, token_sqlite), (MemoryStore, token_memory)):
        def wrap(write: Callable[..., Any], current: Callable[..., Any]) -> Callable[..., Any]:
            async def _write(self: Any, room: str, token: int, batch: Any) -> None:
                try:
                    await write(self, room, token, batch)
                except Fenced:
                    if not removed:
                        raise
                    await write(self, room, await current(self, room), batch)
            return _write
        cls.write = wrap(cls.write, current)


@mutant("fencing_removed", "deposed owner writes", "a store write under an older claim's token is made anyway, "
        "under the current one", ("deposed-owner-wakes",))
def _fencing_removed() -> None:
    fences(removed=True)
