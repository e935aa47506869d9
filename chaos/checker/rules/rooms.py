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

import numpy

from chaos.checker.evidence import Evidence, Key
from chaos.checker.rules.base import Finding, rule


@rule("rooms", owns=("misfiled",), kinds=("misfiled",), requires=("room_in_push",))
def rooms(ev: Evidence) -> Finding:
    found = Finding()
    a = ev.arrays
    # A message filed under a room it was not sent to is one nobody sent to that room (its key is not a send)
    # whose id was sent elsewhere: only those few are looked up.
    unsent = numpy.flatnonzero(~a.sent)
    sent_to = ev.rooms_of if len(unsent) else {}
    misfiled = numpy.zeros(len(a.keys), bool)
    misfiled[[i for i in unsent.tolist() if a.keys[i][1] in sent_to]] = True
    first: dict[Key, str] = {}   # (filed under, member) -> the first misfiling, said
    count: dict[Key, int] = {}
    acked_as: dict[tuple[str, int], set[str]] = {}  # (room, seq) -> client_msg_ids acknowledged under it
    if misfiled.any():
        for room, seq, cmid, where in ev.numbered:
            if where.endswith("acknowledgement"):
                acked_as.setdefault((room, seq), set()).add(cmid)
    names = a.people.values
    shown = ((key[1], a.member(key)) for key in ev.displays)
    seen = chain(((names[a.push_member[i]], int(a.push_msg[i]), int(a.push_seq[i]), None)
                  for i in numpy.flatnonzero(misfiled[a.push_msg]).tolist()),
                 ((member, int(m.msg[i]), int(m.seq[i]), a.sources[m.source[i]]) for member, m in shown
                  for i in numpy.flatnonzero(misfiled[m.msg]).tolist()))
    for member, msg, seq, source in seen:  # pushes first, then each member's showings, in order
        filed, cmid = a.keys[msg]
        key = (filed, member)
        count[key] = count.get(key, 0) + 1
        if key not in first:
            how = "pushed" if source is None else f"shown ({source})"
            owner = sorted(acked_as.get((filed, seq), ()))
            there = f"; seq {seq} there is {', '.join(owner)}" if owner else ""
            first[key] = (f"{member} was {how} {cmid} (seq {seq}) under {filed}, but it was sent to "
                          f"{', '.join(sorted(sent_to[cmid]))}{there}")
    for key, said in first.items():
        found.violation("misfiled", f"{said} ({count[key]} such in {key[0]})", room=key[0], member=key[1])
    found.values["misfiled"] = sum(count.values())
    return found
