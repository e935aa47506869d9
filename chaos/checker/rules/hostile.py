"""Hostile members' attacks: each must be refused; one that went through is a violation.

A hostile member (``topology.hostile``) records each attack as ``f: attack``:
``invoke``, then ``fail`` (refused, with the gRPC ``code``), ``ok`` (the
gate or node did it: deleted the room, stored the message as someone else,
moved a push stream) or ``info`` (a link failure cut it short: nobody said).
"""

from __future__ import annotations

from chaos.checker.evidence import Evidence
from chaos.checker.model import HostileAttack
from chaos.checker.rules.base import Finding, rule


@rule("hostile", owns=("hostile_attempts", "hostile_refused", "hostile_accepted", "hostile_inconclusive",
                       "hostile_attacks"), kinds=("hostile_accepted",))
def hostile(ev: Evidence) -> Finding:
    by_attack: dict[str, HostileAttack] = {}
    finding = Finding()
    for op in ev.attacks:
        name = str(op.value.get("attack", "?"))
        stats = by_attack.setdefault(name, HostileAttack(name))
        if op.type == "invoke":
            stats.attempts += 1
        elif op.type == "fail":
            code = str(op.value.get("code", "?"))
            stats.refused[code] = stats.refused.get(code, 0) + 1
        elif op.type == "ok":
            stats.accepted += 1
            finding.violation("hostile_accepted", f"{op.process}'s {name} attack was accepted"
                              + (f" ({op.value['what']})" if op.value.get("what") else ""),
                              room=op.value.get("room"), member=op.process)
        else:
            stats.inconclusive += 1
    attacks = sorted(by_attack.values(), key=lambda a: a.attack)
    finding.values = {
        "hostile_attempts": sum(a.attempts for a in attacks),
        "hostile_refused": sum(sum(a.refused.values()) for a in attacks),
        "hostile_accepted": sum(a.accepted for a in attacks),
        "hostile_inconclusive": sum(a.inconclusive for a in attacks),
        "hostile_attacks": attacks,
    }
    return finding
