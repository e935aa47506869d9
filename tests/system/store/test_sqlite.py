"""The SQLite store on real files: what it refuses, how it groups commits, what a crash or a full disk does."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from system.store import Batch, Limits, StoredMessage, StoreUnusable, make_store
from system.store.sqlite import DB_FILE, SCHEMA_VERSION
from tests.system.full_disk import SKIP_REASON, on_full_disk, private_tmpfs_works

REPO = Path(__file__).resolve().parents[3]


def msg(seq: int) -> StoredMessage:
    return StoredMessage(seq, 1_000_000 + seq, "alice", f"text {seq}", f"id-{seq}")


async def refused(directory: Path) -> str:
    store = make_store("sqlite", directory)
    with pytest.raises(StoreUnusable) as err:
        await store.open()
    return str(err.value)


async def test_a_data_directory_in_use_by_another_process_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import asyncio, sys
        from system.store import make_store
        async def main():
            s = make_store("sqlite", {str(tmp_path)!r})
            await s.open()
            print("open", flush=True)
            sys.stdin.readline()
        asyncio.run(main())
    """)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        message = await refused(tmp_path)
        assert f"data directory {tmp_path} is in use by another pushchat node (pid {holder.pid})" in message
    finally:
        holder.kill()
        holder.wait()
    store = make_store("sqlite", tmp_path)  # the kernel dropped the dead holder's lock
    await store.open()
    await store.close()


async def test_a_file_that_is_not_a_database_is_refused_and_kept(tmp_path: Path) -> None:
    garbage = os.urandom(8192)
    (tmp_path / DB_FILE).write_bytes(garbage)
    message = await refused(tmp_path)
    assert str(tmp_path / DB_FILE) in message and "not a" in message and "\n" not in message
    assert (tmp_path / DB_FILE).read_bytes() == garbage, "never a silent wipe"


async def test_a_corrupt_store_is_refused(tmp_path: Path) -> None:
    store = make_store("sqlite", tmp_path)
    await store.open()
    record = await store.claim("General", Limits(), create=True)
    for seq in range(1, 400):
        await store.write("General", record.token, Batch(messages=[msg(seq)]))
    await store.close()
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray((tmp_path / DB_FILE).read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page:] = os.urandom(len(data) - 2 * page)  # scribble over every page after the schema
    (tmp_path / DB_FILE).write_bytes(bytes(data))
    message = await refused(tmp_path)
    assert "refusing to start" in message or "not a readable" in message


async def test_a_newer_schema_and_a_foreign_database_are_refused(tmp_path: Path) -> None:
    newer, foreign = tmp_path / "newer", tmp_path / "foreign"
    store = make_store("sqlite", newer)
    await store.open()
    await store.close()
    db = sqlite3.connect(newer / DB_FILE)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this pushchat understands" in await refused(newer)
    foreign.mkdir()
    db = sqlite3.connect(foreign / DB_FILE)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.close()
    assert "is not a pushchat store (it holds tables invoices)" in await refused(foreign)


async def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    for group_commit in (True, False):
        store = make_store("sqlite", tmp_path / str(group_commit), group_commit=group_commit)
        await store.open()
        rooms = [f"R{i}" for i in range(16)]
        tokens = {r: (await store.claim(r, Limits(), create=True)).token for r in rooms}
        before = store.commits

        async def fill(room: str) -> None:
            for seq in range(1, 21):
                await store.write(room, tokens[room], Batch(messages=[msg(seq)]))
        await asyncio.gather(*(fill(r) for r in rooms))
        commits = store.commits - before
        await store.close()
        if group_commit:
            assert commits <= 320 // 4, f"320 writes from 16 rooms took {commits} commits"
        else:
            assert commits == 320


def test_every_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import asyncio
        from system.store import Batch, Limits, StoredMessage, make_store
        async def main():
            s = make_store("sqlite", {str(tmp_path)!r})
            await s.open()
            r = await s.claim("General", Limits(), create=True)
            async def one(seq):
                await s.write("General", r.token, Batch(messages=[StoredMessage(seq, seq, "a", "t", f"i{{seq}}")]))
                print(seq, flush=True)
            seq = 0
            while True:
                # several in flight at once, so the kill lands between commits of a group
                batch = [asyncio.ensure_future(one(seq + i)) for i in range(1, 9)]
                await asyncio.gather(*batch)
                seq += 8
        asyncio.run(main())
    """)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    acked = []
    while len(acked) < 300:
        acked.append(int(writer.stdout.readline()))
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    acked += [int(line) for line in writer.stdout.read().split()]

    async def check() -> None:
        store = make_store("sqlite", tmp_path)
        await store.open()
        record = await store.claim("General", Limits(), create=False)
        await store.close()
        seqs = [m.seq for m in record.messages]
        assert seqs == list(range(1, record.last_seq + 1)), "no gap"
        assert max(acked) <= record.last_seq, f"acknowledged up to {max(acked)}, found {record.last_seq}"
    asyncio.run(check())


@pytest.mark.skipif(not private_tmpfs_works(), reason=SKIP_REASON)
def test_a_full_disk_fails_the_write_definitely_and_keeps_what_was_stored(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import asyncio, json, sys
        from system.store import Batch, Limits, StoredMessage, StoreError, make_store
        async def main():
            s = make_store("sqlite", "/mnt/data")
            await s.open()
            r = await s.claim("General", Limits(), create=True)
            stored, failure = 0, None
            while failure is None and stored < 100000:
                try:
                    await s.write("General", r.token, Batch(messages=[StoredMessage(stored + 1, stored + 1, "a",
                                  "x" * 2000, f"i{stored + 1}")]))
                    stored += 1
                except StoreError as exc:
                    failure = exc
            names = await s.room_names()  # the store still answers
            await s.close()
            again = make_store("sqlite", "/mnt/data")
            await again.open()
            record = await again.claim("General", Limits(history=100000), create=False)
            print(json.dumps({"stored": stored, "definite": failure.definite, "error": str(failure),
                              "names": names, "last_seq": record.last_seq, "kept": len(record.messages)}))
        asyncio.run(main())
    """)
    (tmp_path / "fill.py").write_text(script)
    result = subprocess.run(on_full_disk([sys.executable, str(tmp_path / "fill.py")]), cwd=REPO, capture_output=True,
                            text=True,
                            timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["stored"] > 10 and out["definite"] is True
    assert "full" in out["error"].lower(), out["error"]
    assert out["names"] == [["General", False]]
    assert out["last_seq"] == out["stored"] == out["kept"], "every acknowledged write is there, and nothing else"
