"""How many times clients reconnected successfully (a number to report and bound, never a violation)."""

from __future__ import annotations

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule


@rule("reconnects", owns=("reconnects",))
def reconnects(ev: Evidence) -> Finding:
    return Finding({"reconnects": len(ev.reconnects)})
