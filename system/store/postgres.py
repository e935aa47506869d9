"""The shared store: PostgreSQL through asyncpg, for nodes that must see the same rooms.

Durability is PostgreSQL's: a committed transaction is durable with the
default ``synchronous_commit = on``, and the server commits concurrent
transactions with shared flushes. Every call has a bounded time: getting a
connection (``connect_timeout``) and each statement (``timeout``).

Failures say whether the write surely did not happen: anything before the
COMMIT was sent (no connection, a refused statement, a timeout: the server
rolls the transaction back when its connection goes) is definite; a
connection lost while the COMMIT was on its way is not.

The schema is created on first start, under an advisory lock so that nodes
starting together do not race, and versioned in ``pushchat_meta``; a
database with a newer schema is refused, one with an older schema is
upgraded in place (every statement is idempotent) and keeps its data.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg

from system.store.base import (Batch, Fenced, Limits, RoomRecord, SentId, StoredMessage, StoreError,
                               StoreUnusable, check_sequence)

SCHEMA_VERSION = 2
_LOCK_KEY = 0x70757368636861  # "pushcha": the advisory lock taken while creating the schema

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pushchat_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pushchat_rooms (
    name TEXT PRIMARY KEY, token BIGINT NOT NULL, last_seq BIGINT NOT NULL, last_ts BIGINT NOT NULL,
    explicit BOOLEAN NOT NULL, created BIGSERIAL);
CREATE TABLE IF NOT EXISTS pushchat_messages (
    room TEXT NOT NULL, seq BIGINT NOT NULL, ts BIGINT NOT NULL, "user" TEXT NOT NULL, text TEXT NOT NULL,
    cmid TEXT NOT NULL, PRIMARY KEY (room, seq));
CREATE TABLE IF NOT EXISTS pushchat_sent (
    room TEXT NOT NULL, "user" TEXT NOT NULL, cmid TEXT NOT NULL, seq BIGINT NOT NULL, ts BIGINT NOT NULL,
    PRIMARY KEY (room, "user", cmid));
CREATE INDEX IF NOT EXISTS pushchat_sent_by_seq ON pushchat_sent (room, seq);
CREATE TABLE IF NOT EXISTS pushchat_members (
    room TEXT NOT NULL, "user" TEXT NOT NULL, client_id TEXT NOT NULL, PRIMARY KEY (room, "user"));
CREATE TABLE IF NOT EXISTS pushchat_reads (
    room TEXT NOT NULL, "user" TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (room, "user"));
"""

#: What may have reached the server before the connection went: then the outcome is unknown.
_LINK_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.exceptions.ConnectionDoesNotExistError,
                asyncpg.exceptions.InterfaceError)


#: SQLSTATE classes of a refusal of what a write holds, not of the server's state: data exception,
#: integrity constraint violation, program limit exceeded (a value too large for an index, say).
_CONTENT_CLASSES = ("22", "23", "54")


class PostgresStore:
    durable = True

    def __init__(self, dsn: str, *, pool_size: int = 8, timeout: float = 5.0, connect_timeout: float = 3.0) -> None:
        self.dsn = dsn
        self.where = _redact(dsn)
        self.pool_size = pool_size
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.epoch = 0
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        try:
            async with asyncio.timeout(self.connect_timeout + self.timeout):
                self._pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=self.pool_size,
                                                       command_timeout=self.timeout, timeout=self.connect_timeout)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnusable(f"cannot reach PostgreSQL at {self.where}: {_describe(exc)}") from None
        try:
            self.epoch = await self._setup()
        except BaseException:
            await self.close()
            raise

    async def _setup(self) -> int:
        assert self._pool is not None
        async with self._pool.acquire() as db:
            async with db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
                exists = await db.fetchval("SELECT to_regclass('pushchat_meta') IS NOT NULL")
                if exists:
                    version = int(await db.fetchval("SELECT value FROM pushchat_meta WHERE key = 'schema_version'")
                                  or 0)
                    if version > SCHEMA_VERSION:
                        raise StoreUnusable(f"{self.where} has pushchat schema version {version}, newer than this "
                                            f"pushchat understands ({SCHEMA_VERSION}); upgrade pushchat")
                await db.execute(_SCHEMA)
                await db.execute("INSERT INTO pushchat_meta VALUES ('schema_version', $1) "
                                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", str(SCHEMA_VERSION))
                await db.execute("INSERT INTO pushchat_meta VALUES ('epoch', $1) ON CONFLICT DO NOTHING",
                                 str(random.SystemRandom().getrandbits(62) + 1))
                return int(await db.fetchval("SELECT value FROM pushchat_meta WHERE key = 'epoch'"))

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                async with asyncio.timeout(self.timeout):
                    await pool.close()
            except (asyncio.TimeoutError, OSError):
                pool.terminate()

    async def _acquire(self) -> asyncpg.pool.PoolConnectionProxy:
        if self._pool is None:
            raise StoreError("the store is not open", definite=True)
        try:
            return await self._pool.acquire(timeout=self.connect_timeout)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL at {self.where} is unreachable: {_describe(exc)}", definite=True) from None

    async def _release(self, db: Any, broken: bool) -> None:
        """Give the connection back; a broken one is closed first (the server then rolls back)."""
        assert self._pool is not None
        try:
            if broken:
                db.terminate()
            await self._pool.release(db, timeout=self.timeout)
        except Exception:  # noqa: BLE001 - already gone back (the pool saw it die), or cannot be reset: dropped
            pass

    async def _transact(self, what: str, body: Any) -> Any:
        """Run ``body(db)`` in one transaction; classify a failure as definite or not."""
        db = await self._acquire()
        committing, broken = False, True
        try:
            tr = db.transaction()
            await tr.start()
            try:
                result = await body(db)
            except _LINK_ERRORS:
                raise
            except (StoreError, asyncpg.PostgresError):  # refused, the link is fine: roll back now
                async with asyncio.timeout(self.timeout):
                    await tr.rollback()
                raise
            committing = True
            await tr.commit()
            broken = False
            return result
        except StoreError:
            broken = False
            raise
        except _LINK_ERRORS as exc:  # (some are PostgresErrors too: test these first)
            if committing:
                raise StoreError(f"{what}: lost PostgreSQL at {self.where} during COMMIT, the write may have "
                                 f"happened: {_describe(exc)}", definite=False) from None
            raise StoreError(f"{what}: lost PostgreSQL at {self.where} before COMMIT: {_describe(exc)}",
                             definite=True) from None
        except asyncpg.PostgresError as exc:  # the server refused it: the transaction is rolled back
            broken = False
            raise StoreError(f"{what} refused by PostgreSQL: {_describe(exc)}", definite=True,
                             full=isinstance(exc, asyncpg.exceptions.DiskFullError),
                             rejected=(getattr(exc, "sqlstate", "") or "")[:2] in _CONTENT_CLASSES) from None
        finally:
            await self._release(db, broken)

    async def room_names(self) -> list[tuple[str, bool]]:
        async def names(db: Any) -> list[tuple[str, bool]]:
            rows = await db.fetch("SELECT name, explicit FROM pushchat_rooms ORDER BY created, name")
            return [(r["name"], r["explicit"]) for r in rows]
        return await self._transact("listing rooms", names)

    async def claim(self, room: str, limits: Limits, create: bool, explicit: bool = False) -> RoomRecord | None:
        async def claim(db: Any) -> RoomRecord | None:
            row = await db.fetchrow("UPDATE pushchat_rooms SET token = token + 1 WHERE name = $1 "
                                    "RETURNING token, last_seq, last_ts, explicit", room)
            if row is None:
                if not create:
                    return None
                row = await db.fetchrow(
                    "INSERT INTO pushchat_rooms (name, token, last_seq, last_ts, explicit) VALUES ($1, 1, 0, 0, $2) "
                    "ON CONFLICT (name) DO UPDATE SET token = pushchat_rooms.token + 1 "
                    "RETURNING token, last_seq, last_ts, explicit", room, explicit)
            last_seq = row["last_seq"]
            messages = [StoredMessage(r["seq"], r["ts"], r["user"], r["text"], r["cmid"]) for r in await db.fetch(
                'SELECT seq, ts, "user", text, cmid FROM pushchat_messages WHERE room = $1 AND seq > $2 ORDER BY seq',
                room, last_seq - limits.history)]
            sent = [SentId(r["user"], r["cmid"], r["seq"], r["ts"]) for r in await db.fetch(
                'SELECT "user", cmid, seq, ts FROM pushchat_sent WHERE room = $1 AND seq > $2 ORDER BY seq',
                room, last_seq - limits.dedup)]
            members = {r["user"]: r["client_id"] for r in await db.fetch(
                'SELECT "user", client_id FROM pushchat_members WHERE room = $1', room)}
            reads = {r["user"]: r["seq"] for r in await db.fetch(
                'SELECT "user", seq FROM pushchat_reads WHERE room = $1', room)}
            return RoomRecord(room, row["token"], last_seq, row["last_ts"], messages, sent, members, row["explicit"],
                              reads)
        return await self._transact(f"claiming room {room!r}", claim)

    async def write(self, room: str, token: int, batch: Batch) -> None:
        async def write(db: Any) -> None:
            # The row lock taken here orders us against a concurrent claim: after it, our token is stale.
            row = await db.fetchrow("SELECT token, last_seq FROM pushchat_rooms WHERE name = $1 FOR UPDATE", room)
            if row is None or row["token"] != token:
                raise Fenced(room, token)
            check_sequence(room, row["last_seq"], batch.messages)
            if batch.messages:
                last = batch.messages[-1]
                await db.execute("UPDATE pushchat_rooms SET last_seq = $2, last_ts = $3 WHERE name = $1",
                                 room, last.seq, last.timestamp)
            if batch.messages:
                ms = batch.messages
                await db.execute(
                    'INSERT INTO pushchat_messages (room, seq, ts, "user", text, cmid) '
                    "SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])",
                    room, [m.seq for m in ms], [m.timestamp for m in ms], [m.user for m in ms],
                    [m.text for m in ms], [m.client_msg_id for m in ms])
                ids = [m for m in ms if m.client_msg_id]
                if ids:
                    await db.execute(
                        'INSERT INTO pushchat_sent (room, "user", cmid, seq, ts) '
                        "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[])",
                        room, [m.user for m in ids], [m.client_msg_id for m in ids], [m.seq for m in ids],
                        [m.timestamp for m in ids])
            for user, client_id in batch.joined.items():
                await db.execute('INSERT INTO pushchat_members VALUES ($1, $2, $3) ON CONFLICT (room, "user") '
                                 "DO UPDATE SET client_id = EXCLUDED.client_id", room, user, client_id)
            if batch.left:
                await db.execute('DELETE FROM pushchat_members WHERE room = $1 AND "user" = ANY($2::text[])',
                                 room, batch.left)
            if batch.read:
                await db.execute('INSERT INTO pushchat_reads SELECT $1, * FROM unnest($2::text[], $3::bigint[]) '
                                 'ON CONFLICT (room, "user") DO UPDATE SET seq = greatest(pushchat_reads.seq, '
                                 "EXCLUDED.seq)", room, list(batch.read), list(batch.read.values()))
            if batch.keep_messages_after:
                await db.execute("DELETE FROM pushchat_messages WHERE room = $1 AND seq <= $2",
                                 room, batch.keep_messages_after)
            if batch.keep_ids_after:
                await db.execute("DELETE FROM pushchat_sent WHERE room = $1 AND seq <= $2", room, batch.keep_ids_after)
        await self._transact(f"writing to room {room!r}", write)

    async def drop(self, room: str) -> bool:
        async def drop(db: Any) -> bool:
            for table in ("pushchat_messages", "pushchat_sent", "pushchat_members", "pushchat_reads"):
                await db.execute(f"DELETE FROM {table} WHERE room = $1", room)
            return not (await db.execute("DELETE FROM pushchat_rooms WHERE name = $1", room)).endswith(" 0")
        return bool(await self._transact(f"deleting room {room!r}", drop))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, asyncpg.PostgresError):
        return text or type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    scheme, sep, rest = dsn.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at:
        return dsn
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
