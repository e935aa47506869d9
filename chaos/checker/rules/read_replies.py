"""A member's read position never goes back: each ``MarkRead`` reply is at least the one before it.

``MarkRead`` answers the reader's position after the call, which the room
keeps monotone: a stale or backwards mark (a lagging or hostile member,
``workload.stale_readers``) leaves it where it was. Viewers cannot show a
regression (their client keeps positions forward only), so the reader's
own replies are where a room that let a position go back is seen. A room
whose history started over (a node that lost its data) is not judged.
"""

from __future__ import annotations

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule


@rule("read_replies", owns=("read_regressions",), kinds=("read_position_regressed",))
def read_replies(ev: Evidence) -> Finding:
    found = Finding()
    reset = {str(op.value.get("room", "")) for op in ev.history_resets}
    highest: dict[tuple[str, str], int] = {}  # (room, reader) -> highest position answered so far
    regressions = 0
    for op in sorted((op for op in ev.presence.get("mark_read", []) if op.type == "ok"), key=lambda op: op.time):
        room, reader = str(op.value.get("room", "")), op.process
        if room in reset or "read_seq" not in op.value:
            continue
        at, before = int(op.value["read_seq"]), highest.get((room, reader), 0)
        if at < before:
            regressions += 1
            found.violation("read_position_regressed", f"{reader}'s MarkRead({op.value.get('seq')}) in {room} was "
                            f"answered read_seq {at} at {op.time:.3f} s, below the {before} it was answered before",
                            room, reader)
        highest[(room, reader)] = max(at, before)
    found.values["read_regressions"] = regressions
    return found
