"""Which node owns an object: rendezvous (highest random weight) hashing.

Every gate computes the same owner from the same set of node keys, whatever
the order of its ``--nodes`` list, and removing a node only moves the
objects it owned. Keys are the nodes' advertise addresses (learned through
``Status``), not the addresses a gate dials, which may be proxies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def score(node_key: str, object_id: str) -> int:
    digest = hashlib.blake2b(f"{node_key}\x00{object_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(object_id: str, node_keys: Iterable[str]) -> str:
    """The key of the node that owns ``object_id``; ties (never in practice) go to the larger key."""
    keys = list(node_keys)
    if not keys:
        raise ValueError("no nodes to place objects on")
    return max(keys, key=lambda k: (score(k, object_id), k))
