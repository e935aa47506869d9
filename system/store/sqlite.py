"""The embedded store: one SQLite file in the node's data directory.

Durability: WAL journal. ``sync="full"`` (the default) syncs the WAL on
every commit, so an acknowledged message survives a process crash AND a
power loss. ``sync="normal"`` syncs only at checkpoints: it survives a
process crash (SIGKILL), but a power loss may take the last commits.

Group commit: every database call runs on one thread with one connection,
never on the event loop. Writes that queue up while a commit is syncing
are applied together in the next transaction (each in a savepoint, so one
refused write does not sink the others) and share its one sync.

A data directory is used by one node at a time: an exclusive ``flock`` on
``DIR/LOCK`` (released by the kernel if the node dies) refuses a second.
A file that is not a pushchat store, is corrupt, or has a newer schema is
refused at start with one line saying so; nothing is ever wiped. A store
made by an older pushchat is upgraded in place at start, in one transaction
(``_MIGRATIONS``): its data is kept.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from system.store.base import (Batch, Fenced, Limits, RoomRecord, SentId, StoredMessage, StoreError,
                               StoreUnusable, check_sequence)

SCHEMA_VERSION = 2
DB_FILE = "pushchat.db"
LOCK_FILE = "LOCK"
SYNC_MODES = {"full": "FULL", "normal": "NORMAL"}
MAX_GROUP = 1024  # writes sharing one commit, at most

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE rooms (
    name TEXT PRIMARY KEY, token INTEGER NOT NULL, last_seq INTEGER NOT NULL, last_ts INTEGER NOT NULL,
    explicit INTEGER NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE messages (
    room TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, user TEXT NOT NULL, text TEXT NOT NULL,
    cmid TEXT NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID;
CREATE TABLE sent (
    room TEXT NOT NULL, user TEXT NOT NULL, cmid TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (room, user, cmid)) WITHOUT ROWID;
CREATE INDEX sent_by_seq ON sent (room, seq);
CREATE TABLE members (room TEXT NOT NULL, user TEXT NOT NULL, client_id TEXT NOT NULL,
    PRIMARY KEY (room, user)) WITHOUT ROWID;
""" + """
CREATE TABLE reads (room TEXT NOT NULL, user TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (room, user)) WITHOUT ROWID;
"""

#: version -> the statements that take a store of that version to the next one.
_MIGRATIONS = {
    1: """CREATE TABLE reads (room TEXT NOT NULL, user TEXT NOT NULL, seq INTEGER NOT NULL,
          PRIMARY KEY (room, user)) WITHOUT ROWID;""",  # read receipts
}


@dataclass
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    write: bool = False
    result: Any = None
    error: BaseException | None = field(default=None)


class SqliteStore:
    durable = True

    def __init__(self, directory: str | Path, *, sync: str = "full", group_commit: bool = True) -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)}, not {sync!r}")
        self.directory = Path(directory)
        self.path = self.directory / DB_FILE
        self.where = str(self.path)
        self.sync = sync
        self.group_commit = group_commit
        self.epoch = 0
        self.commits = 0          # transactions committed (writes / commits = the group-commit factor)
        self.writes = 0
        self.write_seconds = 0.0  # the store thread's time in write transactions, BEGIN to COMMIT done
        self.commit_seconds = 0.0  # of which in COMMIT: the WAL sync, with --store-sync full
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None

    # -- life ------------------------------------------------------------------
    async def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnusable(f"cannot create data directory {self.directory}: {exc.strerror}") from None
        self._lock_directory()
        self._thread = threading.Thread(target=self._serve, name=f"sqlite {self.path}", daemon=True)
        self._thread.start()
        try:
            self.epoch = await self._run(self._setup)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _lock_directory(self) -> None:
        path = self.directory / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreUnusable(f"cannot open {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StoreUnusable(f"data directory {self.directory} is in use by another pushchat node "
                                    f"(pid {holder}); two writers must never share it") from None
            raise StoreUnusable(f"cannot lock {path}: {exc.strerror}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _setup(self, db: sqlite3.Connection) -> int:
        """Check (or create) the schema; return the store epoch. Runs on the store thread."""
        try:
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreUnusable(f"{self.path} is corrupt (quick_check: {check}); refusing to start")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreUnusable(f"{self.path} is not a readable pushchat store ({exc}); refusing to start") from None
        if version > SCHEMA_VERSION:
            raise StoreUnusable(f"{self.path} has schema version {version}, newer than this pushchat understands "
                                f"({SCHEMA_VERSION}); upgrade pushchat")
        if version == 0:
            if tables:
                raise StoreUnusable(f"{self.path} is not a pushchat store (it holds tables "
                                    f"{', '.join(sorted(tables))}); refusing to touch it")
            epoch = random.SystemRandom().getrandbits(62) + 1
            db.executescript("BEGIN;" + _SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};"
                             f"INSERT INTO meta VALUES ('epoch', '{epoch}'); COMMIT;")
        elif version < SCHEMA_VERSION:
            steps = "".join(_MIGRATIONS[v] for v in range(version, SCHEMA_VERSION))
            db.executescript(f"BEGIN;{steps}PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        if row is None:
            raise StoreUnusable(f"{self.path} has no store epoch; refusing to start")
        return int(row[0])

    # -- the store thread ------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {SYNC_MODES[self.sync]}")
        db.execute("PRAGMA foreign_keys = OFF")
        return db

    def _serve(self) -> None:
        db: sqlite3.Connection | None = None
        deferred: list[_Job] = []
        while True:
            job = deferred.pop(0) if deferred else self._jobs.get()
            if job is None:
                break
            if db is None:
                try:
                    db = self._connect()
                except sqlite3.Error as exc:
                    self._settle(job, None, StoreUnusable(f"{self.path} is not a readable pushchat store ({exc}); "
                                                          "refusing to start"))
                    continue
            if not job.write:
                try:
                    self._settle(job, job.fn(db), None)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self._settle(job, None, exc)
                continue
            group = [job]
            while self.group_commit and len(group) < MAX_GROUP:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None or not more.write:
                    deferred.append(more)  # type: ignore[arg-type]
                    break
                group.append(more)
            self._commit(db, group)
        if db is not None:
            db.close()
        while True:  # closing: what is still queued will never run
            try:
                job = deferred.pop(0) if deferred else self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._settle(job, None, StoreError("the store is closed", definite=True))

    def _commit(self, db: sqlite3.Connection, group: list[_Job]) -> None:
        """One transaction for the whole group; each write in its own savepoint, so it can fail alone."""
        began = time.perf_counter()
        try:
            db.execute("BEGIN IMMEDIATE")
            for i, job in enumerate(group):
                db.execute(f"SAVEPOINT w{i}")
                try:
                    job.result = job.fn(db)
                except Exception as exc:  # noqa: BLE001 - refused (or not even encodable): this write alone fails
                    db.execute(f"ROLLBACK TO w{i}")
                    job.error = exc if isinstance(exc, StoreError) else _store_error(exc, definite=True,
                                                                                     rejected=_rejects_content(exc))
                db.execute(f"RELEASE w{i}")
        except sqlite3.Error as exc:  # the transaction itself broke: nothing of it was committed
            _rollback(db)
            failure = _store_error(exc, definite=True)
            for job in group:
                self._settle(job, None, failure)
            return
        committing = time.perf_counter()
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(db)
            failure = _store_error(exc, definite=_commit_surely_failed(exc))
            for job in group:
                self._settle(job, None, job.error or failure)
            return
        done = time.perf_counter()
        self.commits += 1
        self.writes += len(group)
        self.write_seconds += done - began
        self.commit_seconds += done - committing
        for job in group:
            self._settle(job, job.result, job.error)

    @staticmethod
    def _settle(job: _Job, result: Any, error: BaseException | None) -> None:
        def settle() -> None:
            if job.future.done():
                return
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
        try:
            job.loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    async def _run(self, fn: Callable[[sqlite3.Connection], Any], write: bool = False) -> Any:
        if self._thread is None:
            raise StoreError("the store is not open", definite=True)
        loop = asyncio.get_running_loop()
        job = _Job(fn, loop.create_future(), loop, write)
        self._jobs.put(job)
        return await job.future

    # -- the store API -------------------------------------------------------------
    async def room_names(self) -> list[tuple[str, bool]]:
        rows = await self._run(lambda db: db.execute(
            "SELECT name, explicit FROM rooms ORDER BY created, name").fetchall())
        return [(name, bool(explicit)) for name, explicit in rows]

    async def claim(self, room: str, limits: Limits, create: bool, explicit: bool = False) -> RoomRecord | None:
        def claim(db: sqlite3.Connection) -> RoomRecord | None:
            row = db.execute("SELECT token, last_seq, last_ts, explicit FROM rooms WHERE name = ?", (room,)).fetchone()
            if row is None:
                if not create:
                    return None
                created = db.execute("SELECT coalesce(max(created), 0) + 1 FROM rooms").fetchone()[0]
                db.execute("INSERT INTO rooms VALUES (?, 1, 0, 0, ?, ?)", (room, int(explicit), created))
                return RoomRecord(room, 1, explicit=explicit)
            token, last_seq, last_ts, was_explicit = row
            token += 1
            db.execute("UPDATE rooms SET token = ? WHERE name = ?", (token, room))
            messages = [StoredMessage(*r) for r in db.execute(
                "SELECT seq, ts, user, text, cmid FROM messages WHERE room = ? AND seq > ? ORDER BY seq",
                (room, last_seq - limits.history))]
            sent = [SentId(*r) for r in db.execute(
                "SELECT user, cmid, seq, ts FROM sent WHERE room = ? AND seq > ? ORDER BY seq",
                (room, last_seq - limits.dedup))]
            members = dict(db.execute("SELECT user, client_id FROM members WHERE room = ?", (room,)).fetchall())
            reads = dict(db.execute("SELECT user, seq FROM reads WHERE room = ?", (room,)).fetchall())
            return RoomRecord(room, token, last_seq, last_ts, messages, sent, members, bool(was_explicit), reads)
        return await self._run(claim, write=True)

    async def write(self, room: str, token: int, batch: Batch) -> None:
        def write(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT token, last_seq FROM rooms WHERE name = ?", (room,)).fetchone()
            if row is None or row[0] != token:
                raise Fenced(room, token)
            check_sequence(room, row[1], batch.messages)
            if batch.messages:
                last = batch.messages[-1]
                db.execute("UPDATE rooms SET last_seq = ?, last_ts = ? WHERE name = ?", (last.seq, last.timestamp, room))
            db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
                           [(room, m.seq, m.timestamp, m.user, m.text, m.client_msg_id) for m in batch.messages])
            db.executemany("INSERT INTO sent VALUES (?, ?, ?, ?, ?)",
                           [(room, m.user, m.client_msg_id, m.seq, m.timestamp)
                            for m in batch.messages if m.client_msg_id])
            db.executemany("INSERT OR REPLACE INTO members VALUES (?, ?, ?)",
                           [(room, user, cid) for user, cid in batch.joined.items()])
            db.executemany("DELETE FROM members WHERE room = ? AND user = ?", [(room, user) for user in batch.left])
            db.executemany("INSERT INTO reads VALUES (?, ?, ?) ON CONFLICT (room, user) "
                           "DO UPDATE SET seq = max(seq, excluded.seq)", [(room, u, s) for u, s in batch.read.items()])
            if batch.keep_messages_after:
                db.execute("DELETE FROM messages WHERE room = ? AND seq <= ?", (room, batch.keep_messages_after))
            if batch.keep_ids_after:
                db.execute("DELETE FROM sent WHERE room = ? AND seq <= ?", (room, batch.keep_ids_after))
        await self._run(write, write=True)

    async def drop(self, room: str) -> bool:
        def drop(db: sqlite3.Connection) -> bool:
            for table, column in (("messages", "room"), ("sent", "room"), ("members", "room"), ("reads", "room")):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (room,))
            return db.execute("DELETE FROM rooms WHERE name = ?", (room,)).rowcount > 0
        return bool(await self._run(drop, write=True))


def _rollback(db: sqlite3.Connection) -> None:
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error:  # no transaction left to roll back
        pass


def _commit_surely_failed(exc: sqlite3.Error) -> bool:
    """A failed COMMIT rolls back, except an I/O error, after which the WAL may hold the commit."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is None or (code & 0xFF) != sqlite3.SQLITE_IOERR


def _rejects_content(exc: BaseException) -> bool:
    """A refusal of what the write holds (a constraint, a value too big, text that is not UTF-8), not of
    the database's state (locked, I/O, full)."""
    if isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError)):
        return True
    return not isinstance(exc, sqlite3.Error)  # raised binding the values, before SQLite saw them


def _store_error(exc: BaseException, *, definite: bool, rejected: bool = False) -> StoreError:
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or type(exc).__name__
        full = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_FULL
        return StoreError(f"store write failed ({name}: {exc})", definite=definite, full=full, rejected=rejected)
    return StoreError(f"store write failed ({type(exc).__name__}: {exc})", definite=definite, rejected=rejected)
