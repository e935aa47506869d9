"""Presence converges: after the heal and the final poll, each member's list of the room's members is the room's.

The room's members are those whose join succeeded and who did not leave
(every chaos client joins every room). Joins and leaves are pushed best
effort, but the list rides on every poll reply, so after the final poll no
member may be missing or extra in anyone's view, whatever pushes were lost.
Judged only for runs with ``workload.presence`` (``final_presence`` records).
"""

from __future__ import annotations

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule


@rule("presence", owns=("presence_checked", "presence_diverged"), kinds=("presence_diverged",), requires=("presence",))
def presence(ev: Evidence) -> Finding:
    found = Finding()
    checked = diverged = 0
    for op in ev.presence.get("final_presence", []):
        room = str(op.value.get("room", ""))
        expected = {member for (r, member) in ev.joined if r == room and (r, member) not in ev.left}
        shown = set(op.value.get("members") or ())
        checked += 1
        if shown != expected:
            diverged += 1
            parts = [f"missing {', '.join(sorted(expected - shown))}" if expected - shown else "",
                     f"extra {', '.join(sorted(shown - expected))}" if shown - expected else ""]
            found.violation("presence_diverged", f"after the final poll {op.process} showed {room}'s members as "
                            f"{sorted(shown)}, the room has {sorted(expected)} ({'; '.join(p for p in parts if p)})",
                            room, op.process)
    found.values.update(presence_checked=checked, presence_diverged=diverged)
    return found
