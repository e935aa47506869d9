"""Whether the run can be judged at all: it reached its ``done`` phase, and every member still in
a room made a successful final poll of it (when the system's rooms can be read at all: Goverse's cannot, and
the rules that need the final poll say n/a). What is missing makes the verdict unknown, not invalid."""

from __future__ import annotations

from chaos.checker import systems
from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule


@rule("completeness")
def completeness(ev: Evidence) -> Finding:
    found = Finding()
    if "done" not in ev.phases:
        found.incomplete.append("no 'phase done' record: the run did not finish")
    if systems.missing(ev.system, ("history_read",)):
        return found
    for room, member in ev.members:
        if (room, member) in ev.joined and (room, member) not in ev.left and (room, member) not in ev.final_polled:
            found.incomplete.append(f"{member} has no successful final poll of {room}")
    return found
