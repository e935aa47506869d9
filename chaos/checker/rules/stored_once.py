"""A message is stored once: a retried send (same ``client_msg_id``) never takes a second seq.

A send whose reply was lost (an aborted call, a timeout) is retried with
the same id, and the room must answer with the numbers it stored it
under. The witnesses are the acknowledgements and the final polls: one
``(room, client_msg_id)`` under two seqs means the retry was stored again.
On a durable store only: a memory store that lost its data may store a
retry afresh, in a history that started over.
"""

from __future__ import annotations

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.durability import DURABLE_STORES
from chaos.checker.witness import Witnesses


@rule("stored_once", owns=("stored_twice",), kinds=("stored_twice",), requires=("seq",))
def stored_once(ev: Evidence) -> Finding:
    found = Finding({"stored_twice": 0})
    if ev.store not in DURABLE_STORES:
        return found
    seqs = Witnesses()  # (room, cmid) -> seq -> first witness
    for room, seq, cmid, where in ev.numbered:
        if seq > 0 and cmid:
            seqs.add((room, cmid), seq, where)
    for (room, cmid), where in seqs.conflicts():
        if len(where) > 1:
            found.values["stored_twice"] += 1
            named = "; ".join(f"#{seq} ({w})" for seq, w in sorted(where.items()))
            found.violation("stored_twice", f"{room}: {cmid} was stored {len(where)} times: {named}", room,
                            message=cmid)
    return found
