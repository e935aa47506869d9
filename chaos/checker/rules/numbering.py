"""A room numbers its messages from 1 without gaps: no seq is skipped (durable stores only).

Read from the final polls: between the first seq a room still holds (older
ones may be trimmed) and its last, every seq is there. With ``store:
memory`` a restarted node numbers from 1 again, so only durable stores are
judged.
"""

from __future__ import annotations

import numpy

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.durability import DURABLE_STORES


@rule("numbering", owns=("seq_gaps",), kinds=("seq_gap",), requires=("seq", "history_read"))
def numbering(ev: Evidence) -> Finding:
    found = Finding()
    gaps = 0
    if ev.store in DURABLE_STORES:
        a = ev.arrays
        polled = a.polled_rows
        msg, seq = a.numbered_msg[polled], a.numbered_seq[polled]
        rooms = a.room[msg]
        for room in sorted({a.room_names[r] for r in numpy.unique(rooms).tolist()}):
            held = numpy.unique(seq[rooms == a.room_ids[room]])  # sorted
            low, high = int(held[0]), int(held[-1])
            gap = numpy.diff(held) - 1
            if gap.any():
                missing = _first_missing(held, gap, 5)
                gaps += int(gap.sum())
                found.violation("seq_gap", f"{room} holds seqs {low}-{high} but not "
                                f"{', '.join(map(str, missing))}{' …' if gap.sum() > 5 else ''}", room)
    found.values["seq_gaps"] = gaps
    return found


def _first_missing(held: numpy.ndarray, gap: numpy.ndarray, most: int) -> list[int]:
    """The first ``most`` seqs missing between the sorted distinct seqs ``held`` (``gap``: how many after each)."""
    missing: list[int] = []
    for i in numpy.flatnonzero(gap).tolist():
        missing += range(int(held[i]) + 1, int(held[i]) + 1 + min(int(gap[i]), most - len(missing)))
        if len(missing) >= most:
            break
    return missing
