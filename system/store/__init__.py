"""Room stores: where a room's messages, ids and members live, so an acknowledged message survives.

``--store`` names one: ``sqlite`` (the default: a file in the node's data
directory), ``memory`` (today's behaviour: lost on a crash) or a
``postgresql://`` URL (shared by every node of a cluster). See
:mod:`system.store.base` for what every store promises.
"""

from __future__ import annotations

from pathlib import Path

from system.store.base import (Batch, Fenced, Limits, RoomRecord, SentId, Store, StoredMessage, StoreError,
                               StoreUnusable, unstorable)

__all__ = ["Batch", "Fenced", "Limits", "RoomRecord", "SentId", "Store", "StoredMessage", "StoreError",
           "StoreUnusable", "unstorable", "KINDS", "make_store", "describe_spec"]

KINDS = ("sqlite", "memory", "postgresql://…")


def make_store(spec: str, data_dir: str | Path | None = None, *, sync: str = "full",
               group_commit: bool = True, timeout: float = 5.0) -> Store:
    """The store ``spec`` names; ValueError with a readable reason when it names none."""
    if spec == "memory":
        from system.store.memory import MemoryStore
        return MemoryStore()
    if spec == "sqlite":
        if data_dir is None:
            raise ValueError("the sqlite store needs a data directory (--data-dir DIR)")
        from system.store.sqlite import SqliteStore
        return SqliteStore(data_dir, sync=sync, group_commit=group_commit)
    if spec.startswith(("postgresql://", "postgres://")):
        from system.store.postgres import PostgresStore
        return PostgresStore(spec, timeout=timeout, connect_timeout=min(timeout, 3.0))
    raise ValueError(f"unknown store {spec!r}: want sqlite, memory or a postgresql:// URL")


def describe_spec(spec: str) -> str:
    """``spec`` for logs, without a password."""
    if spec.startswith(("postgresql://", "postgres://")):
        from system.store.postgres import _redact
        return _redact(spec)
    return spec
