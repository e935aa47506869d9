"""A room's timestamps grow strictly with its seqs, whatever the node's wall clock did.

The room hands out ``max(now, last + 1 µs)`` and its store remembers the
last one (``system/transcript.py``), so a clock that jumps back, or a node
restarted under one, never numbers a message earlier than the one before.
The witnesses are the acknowledgements (seq and timestamp). On a durable
store only: a memory store that lost its data starts a new history.
"""

from __future__ import annotations

import numpy

from chaos.checker.arrays import column
from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.durability import DURABLE_STORES


@rule("timestamps", owns=("timestamp_regressions",), kinds=("timestamp_regression",), requires=("seq",))
def timestamps(ev: Evidence) -> Finding:
    found = Finding({"timestamp_regressions": 0})
    if ev.store not in DURABLE_STORES:
        return found
    a = ev.arrays
    stamps = ev.stamps
    msg, seq, stamp = column(stamps.msg), column(stamps.a), column(stamps.b)
    counted = numpy.flatnonzero(seq > 0)
    rank = numpy.empty(len(a.room_names), numpy.int64)  # room number -> its place in name order
    rank[sorted(range(len(a.room_names)), key=a.room_names.__getitem__)] = numpy.arange(len(a.room_names))
    order = counted[numpy.lexsort((seq[counted], rank[a.room[msg[counted]]]))]  # by room name, then seq, then
    rooms, seqs = rank[a.room[msg[order]]], seq[order]                            # history order
    first = numpy.concatenate(([True], (rooms[1:] != rooms[:-1]) | (seqs[1:] != seqs[:-1])))[:len(order)]
    order, rooms = order[first], rooms[first]  # each (room, seq)'s first acknowledgement
    back = numpy.flatnonzero((rooms[1:] == rooms[:-1]) & (stamp[order][1:] <= stamp[order][:-1])) + 1
    for k in back.tolist():  # the few
        now, before = int(order[k]), int(order[k - 1])
        room, cmid = a.keys[msg[now]]
        found.values["timestamp_regressions"] += 1
        found.violation("timestamp_regression", f"{room} #{seq[now]} ({cmid}) is stamped {stamp[now]} µs, not "
                        f"after #{seq[before]} ({a.keys[msg[before]][1]}) at {stamp[before]} µs", room, message=cmid)
    return found
