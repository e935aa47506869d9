"""A message is stored once: a retried send (same ``client_msg_id``) never takes a second seq.

A send whose reply was lost (an aborted call, a timeout) is retried with
the same id, and the room must answer with the numbers it stored it
under. The witnesses are the acknowledgements and the final polls: one
``(room, client_msg_id)`` under two seqs means the retry was stored again.
On a durable store only: a memory store that lost its data may store a
retry afresh, in a history that started over.
"""

from __future__ import annotations

import numpy

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.durability import DURABLE_STORES
from chaos.checker.witness import Witnesses


@rule("stored_once", owns=("stored_twice",), kinds=("stored_twice",), requires=("seq",))
def stored_once(ev: Evidence) -> Finding:
    found = Finding({"stored_twice": 0})
    if ev.store not in DURABLE_STORES:
        return found
    a = ev.arrays
    msg, seq = a.numbered_msg, a.numbered_seq
    named = numpy.ones(len(a.keys), bool)
    named[[i for i, (_, cmid) in enumerate(a.keys) if not cmid]] = False
    counted = (seq > 0) & named[msg]
    usual = numpy.zeros(len(a.keys), numpy.int64)  # a seq each message was witnessed under
    usual[msg[counted]] = seq[counted]
    suspect = numpy.zeros(len(a.keys), bool)  # messages witnessed under another seq as well: the few
    suspect[msg[counted & (seq != usual[msg])]] = True
    seqs = Witnesses()  # (room, cmid) -> seq -> first witness, for the suspects, in witness order
    for i in numpy.flatnonzero(counted & suspect[msg]).tolist():
        room, s, cmid, where = ev.numbered[i]
        seqs.add((room, cmid), s, where)
    for (room, cmid), where in seqs.conflicts():
        if len(where) > 1:
            found.values["stored_twice"] += 1
            named = "; ".join(f"#{seq} ({w})" for seq, w in sorted(where.items()))
            found.violation("stored_twice", f"{room}: {cmid} was stored {len(where)} times: {named}", room,
                            message=cmid)
    return found
