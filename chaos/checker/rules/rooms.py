"""Every message a member is pushed or shown is filed under the room it was sent to.

A push names its room (the message's ``room_name``) and the client files
it there. Filed under another room, it is either shown there under a seq
that belongs to another message, or dropped as already known, and then the
real message of that seq goes unshown until a poll: whether the other rules
see it is timing. So each raw push and each showing is compared with the
room its message was sent to (by ``client_msg_id``, which the workload
never reuses across rooms), and with the message acknowledged under that
seq in that room. Messages nobody sent are the ``members`` rule's phantoms.
"""

from __future__ import annotations

from itertools import chain

from chaos.checker.evidence import Evidence, Key
from chaos.checker.rules.base import Finding, rule


@rule("rooms", owns=("misfiled",), kinds=("misfiled",), requires=("room_in_push",))
def rooms(ev: Evidence) -> Finding:
    found = Finding()
    acked_as: dict[tuple[str, int], set[str]] = {}  # (room, seq) -> client_msg_ids acknowledged under it
    for room, seq, cmid, where in ev.numbered:
        if where.endswith("acknowledgement"):
            acked_as.setdefault((room, seq), set()).add(cmid)
    first: dict[Key, str] = {}   # (filed under, member) -> the first misfiling, said
    count: dict[Key, int] = {}
    seen = chain(((p.member, p.room, p.seq, p.client_msg_id, None) for p in ev.pushes),
                 ((member, d.key[0], d.seq, d.key[1], d.source) for (_, member), displays
                  in ev.displays.items() for d in displays))  # one at a time: a soak has 10^7
    for member, filed, seq, cmid, source in seen:
        sent_to = ev.rooms_of.get(cmid)
        if not sent_to or filed in sent_to:
            continue
        key = (filed, member)
        count[key] = count.get(key, 0) + 1
        if key not in first:
            how = "pushed" if source is None else f"shown ({source})"
            owner = sorted(acked_as.get((filed, seq), ()))
            there = f"; seq {seq} there is {', '.join(owner)}" if owner else ""
            first[key] = (f"{member} was {how} {cmid} (seq {seq}) under {filed}, but it was sent to "
                          f"{', '.join(sorted(sent_to))}{there}")
    for key, said in first.items():
        found.violation("misfiled", f"{said} ({count[key]} such in {key[0]})", room=key[0], member=key[1])
    found.values["misfiled"] = sum(count.values())
    return found
