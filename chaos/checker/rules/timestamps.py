"""A room's timestamps grow strictly with its seqs, whatever the node's wall clock did.

The room hands out ``max(now, last + 1 µs)`` and its store remembers the
last one (``system/transcript.py``), so a clock that jumps back, or a node
restarted under one, never numbers a message earlier than the one before.
The witnesses are the acknowledgements (seq and timestamp). On a durable
store only: a memory store that lost its data starts a new history.
"""

from __future__ import annotations

from collections import defaultdict

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.durability import DURABLE_STORES


@rule("timestamps", owns=("timestamp_regressions",), kinds=("timestamp_regression",), requires=("seq",))
def timestamps(ev: Evidence) -> Finding:
    found = Finding({"timestamp_regressions": 0})
    if ev.store not in DURABLE_STORES:
        return found
    rooms: dict[str, dict[int, tuple[int, str]]] = defaultdict(dict)  # room -> seq -> (timestamp, cmid)
    for room, seq, stamp, cmid in ev.stamps:
        if seq > 0:
            rooms[room].setdefault(seq, (stamp, cmid))
    for room, by_seq in sorted(rooms.items()):
        before: tuple[int, int, str] | None = None  # (seq, timestamp, cmid)
        for seq in sorted(by_seq):
            stamp, cmid = by_seq[seq]
            if before is not None and stamp <= before[1]:
                found.values["timestamp_regressions"] += 1
                found.violation("timestamp_regression", f"{room} #{seq} ({cmid}) is stamped {stamp} µs, not after "
                                f"#{before[0]} ({before[2]}) at {before[1]} µs", room, message=cmid)
            before = (seq, stamp, cmid)
    return found
