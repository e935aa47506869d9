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

import numpy

from chaos.checker.arrays import Arrays, column
from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.durability import DURABLE_STORES
from chaos.checker.witness import Witnesses


@rule("conflicting_seq", owns=("conflicting_seq",), kinds=("conflicting_seq",), requires=("seq",))
def conflicting_seq(ev: Evidence) -> Finding:
    found = Finding({"conflicting_seq": 0})
    if ev.store not in DURABLE_STORES:
        return found
    a = ev.arrays
    unnamed = [i for i, (_, cmid) in enumerate(a.keys) if not cmid or cmid.startswith("seq:")]  # the few
    numbered = numpy.ones(len(a.keys), bool)  # what an acknowledgement or a final poll may witness
    numbered[[i for i in unnamed if not a.keys[i][1]]] = False
    shown = numpy.ones(len(a.keys), bool)     # what a display may witness (not one named by its seq alone)
    shown[[i for i in unnamed if a.keys[i][1].startswith("seq:")]] = False
    witnesses = [(None, column(ev.numbered.msg), column(ev.numbered.a), numbered)]  # (member, messages, seqs, ok)
    for key in ev.displays:
        m = a.member(key)
        witnesses.append((key[1], m.msg, m.seq, shown))
    suspects = _shared(a, [(msg[(seq > 0) & ok[msg]], seq[(seq > 0) & ok[msg]]) for _, msg, seq, ok in witnesses])
    if not suspects:
        return found
    seen = Witnesses()  # (room, seq) -> cmid -> first witness, for the suspect slots only, in witness order
    suspect_seqs = numpy.array(sorted({q for _, q in suspects}), numpy.int64)
    for member, msg, seq, ok in witnesses:
        label = None if member is None else f"{member}'s display"
        for i in numpy.flatnonzero(numpy.isin(seq, suspect_seqs) & (seq > 0) & ok[msg]).tolist():
            room, cmid = a.keys[msg[i]]
            if (room, int(seq[i])) in suspects:
                seen.add((room, int(seq[i])), cmid, ev.numbered[i][3] if label is None else label)
    for (room, seq), ids in seen.conflicts():
        if len(ids) > 1:
            found.values["conflicting_seq"] += 1
            named = "; ".join(f"{cmid} ({where})" for cmid, where in sorted(ids.items()))
            found.violation("conflicting_seq", f"{room} #{seq} carried {len(ids)} different messages: {named}",
                            room, message=",".join(sorted(ids)))
    return found


def _shared(a: Arrays, witnessed: list[tuple[numpy.ndarray, numpy.ndarray]]) -> set[tuple[str, int]]:
    """The (room, seq) slots witnessed with more than one message. Each message is nearly always witnessed
    under one seq, so that pair stands for all its witnesses and only the others are sorted with them."""
    usual = numpy.zeros(len(a.keys), numpy.int64)
    present = numpy.zeros(len(a.keys), bool)
    for msg, seq in witnessed:
        usual[msg] = seq
        present[msg] = True
    msgs = [numpy.flatnonzero(present)]
    seqs = [usual[msgs[0]]]
    for msg, seq in witnessed:
        odd = seq != usual[msg]
        msgs.append(msg[odd])
        seqs.append(seq[odd])
    msg, seq = numpy.concatenate(msgs), numpy.concatenate(seqs)
    room = a.room[msg]
    order = numpy.lexsort((seq, room))
    msg, seq, room = msg[order], seq[order], room[order]
    clash = numpy.flatnonzero((room[1:] == room[:-1]) & (seq[1:] == seq[:-1]) & (msg[1:] != msg[:-1]))
    return {(a.room_names[room[i]], int(seq[i])) for i in clash.tolist()}
