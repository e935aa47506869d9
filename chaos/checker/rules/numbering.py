"""A room numbers its messages from 1 without gaps: no seq is skipped (durable stores only).

Read from the final polls: between the first seq a room still holds (older
ones may be trimmed) and its last, every seq is there. With ``store:
memory`` a restarted node numbers from 1 again, so only durable stores are
judged.
"""

from __future__ import annotations

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.durability import DURABLE_STORES


@rule("numbering", owns=("seq_gaps",), kinds=("seq_gap",), requires=("seq", "history_read"))
def numbering(ev: Evidence) -> Finding:
    found = Finding()
    gaps = 0
    if ev.store in DURABLE_STORES:
        seqs: dict[str, set[int]] = {}
        for room, seq, _, where in ev.numbered:
            if where == "final poll":
                seqs.setdefault(room, set()).add(seq)
        for room, held in sorted(seqs.items()):
            missing = sorted(set(range(min(held), max(held) + 1)) - held)
            if missing:
                gaps += len(missing)
                found.violation("seq_gap", f"{room} holds seqs {min(held)}-{max(held)} but not "
                                f"{', '.join(map(str, missing[:5]))}{' …' if len(missing) > 5 else ''}", room)
    found.values["seq_gaps"] = gaps
    return found
