"""Who the store says is in each room, read from the store itself at the end of a run.

A deposed owner that writes a member change after another node claimed the
room leaves the store disagreeing with the true owner, which serves from
memory and so shows nothing until the room is read back (a restart, a
failover). The ``stored_members`` rule compares this reading with each
member's current registration. Read directly (asyncpg, or SQLite read-only
beside a running node: WAL readers do not block it), never through a node.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from system.store.sqlite import DB_FILE

Members = dict[str, dict[str, str]]  # room -> user -> client id


async def read_postgres(dsn: str) -> Members:
    import asyncpg  # the store's own driver: installed wherever a postgres store runs
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch('SELECT room, "user", client_id FROM pushchat_members')
    finally:
        await conn.close()
    return _rooms((r["room"], r["user"], r["client_id"]) for r in rows)


def read_sqlite(folders: list[Path]) -> Members:
    """Every node's data folder (each room lives in one: static placement, no shared file)."""
    rows: list[tuple[str, str, str]] = []
    for folder in folders:
        path = folder / DB_FILE
        if not path.exists():
            continue
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows += db.execute("SELECT room, user, client_id FROM members").fetchall()
        finally:
            db.close()
    return _rooms(rows)


async def read(topology: Any) -> Members | None:
    """The topology's store's members, or None for a store that keeps nothing (memory)."""
    if topology.plan.store == "postgres" and topology.store is not None:
        from chaos.topology import STORE_DATABASE
        return await read_postgres(topology.store.server.dsn(STORE_DATABASE))
    if topology.plan.store == "sqlite":
        folders = [topology.folder.data / topology.names.node(i) for i in range(topology.plan.nodes)]
        return await asyncio.to_thread(read_sqlite, folders)
    return None


async def record(topology: Any, history: Any, rooms: Any) -> None:
    """Write each room's stored members to the history (``stored_members``); a store that cannot be read
    is recorded as such (info), and the rule then has nothing to judge."""
    try:
        stored = await read(topology)
    except Exception as exc:  # noqa: BLE001 - a reading the run could not make is said, not fatal
        history.info("runner", "stored_members", {"error": f"{type(exc).__name__}: {exc}"})
        return
    if stored is not None:
        for room in rooms:
            history.ok("runner", "stored_members", {"room": room, "members": stored.get(room, {})})


def _rooms(rows: Any) -> Members:
    out: Members = {}
    for room, user, client_id in rows:
        out.setdefault(str(room), {})[str(user)] = str(client_id)
    return out
