"""No two different messages ever share a ``(room, seq)``: the fencing promise of a cluster.

Every place the history names a message with its number is a witness: an
acknowledgement (the seq the room gave the send), a member's display, the
final poll. Two witnesses of one ``(room, seq)`` naming different client
message ids mean two owners numbered the same slot: a deposed owner wrote.

Within one store epoch only: a memory store that restarts numbers from 1
again, legitimately (``history_resets`` counts that), so the rule judges
runs on a durable store.
"""

from __future__ import annotations

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.durability import DURABLE_STORES
from chaos.checker.witness import Witnesses


@rule("conflicting_seq", owns=("conflicting_seq",), kinds=("conflicting_seq",), requires=("seq",))
def conflicting_seq(ev: Evidence) -> Finding:
    found = Finding({"conflicting_seq": 0})
    if ev.store not in DURABLE_STORES:
        return found
    seen = Witnesses()  # (room, seq) -> cmid -> first witness
    for room, seq, cmid, where in ev.numbered:
        if seq > 0 and cmid:
            seen.add((room, seq), cmid, where)
    for (member_room, member), displays in ev.displays.items():
        label = f"{member}'s display"
        for d in displays:
            if d.seq > 0 and not d.key[1].startswith("seq:"):
                seen.add((member_room, d.seq), d.key[1], label)
    for (room, seq), ids in seen.conflicts():
        if len(ids) > 1:
            found.values["conflicting_seq"] += 1
            named = "; ".join(f"{cmid} ({where})" for cmid, where in sorted(ids.items()))
            found.violation("conflicting_seq", f"{room} #{seq} carried {len(ids)} different messages: {named}",
                            room, message=",".join(sorted(ids)))
    return found
