"""Every member that was cut off came back: per member, not a count that depends on timing.

A member is cut off (it owes a reconnect) when
- its stream ends, whatever the cause, or it begins another attempt
  (``stream_end``, ``reconnect`` invoke); or
- a fault that surely cuts it begins, whether or not its client noticed yet:
  its gate SIGKILLed or stopped (``kill``, ``restart``), its own link
  ``disable``d or ``blackhole``d (the heal closes the connections).
  A member's gate is the one that logged ``client_registered`` for one of
  the client ids the member recorded (connect, reconnect).

Each successful ``reconnect`` after a cut pays every cut before it; a
member whose last cut (before the final poll) is followed by none is
``not_reconnected``, a violation. Members of a gate that was ``crash``ed
(never restarted) have nowhere to come back to and are not judged after it.

``reconnects_due`` counts the cuts, each run of them paid by one
reconnect: it depends on timing (how often a link dropped), so a scenario
bounds it only from below, ``>= 1``, to show that the rule judged something;
``reconnects_missing: 0`` is what "every client of the killed gate
reconnected" means.
"""

from __future__ import annotations

from collections import defaultdict

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule

#: Process faults that cut every client of the gate they hit, and after which it comes back.
GATE_CUTS = frozenset({"kill", "restart"})
#: Link faults that cut the client behind the link for sure (not ``reset_peer``/``limit_data``: they wait for
#: traffic, so whether they cut is seen from the member's ``stream_end``).
LINK_CUTS = frozenset({"disable", "blackhole"})
CLIENT_PROXY = "client-"


def _gate_members(ev: Evidence) -> dict[str, set[str]]:
    """Gate process (``gate1``) -> the members that registered there, by the client ids both recorded."""
    member_of = {cid: member for member, cids in ev.client_ids.items() for cid in cids}
    gates: dict[str, set[str]] = defaultdict(set)
    for process in ev.logs:
        gate = process.partition("#")[0]
        if not gate.startswith("gate"):
            continue
        for line in ev.log_lines(process, "client_registered"):
            member = member_of.get(str(line.get("client_id", "")))
            if member is not None:
                gates[gate].add(member)
    return gates


@rule("reconnected", owns=("reconnects_due", "reconnects_missing"), kinds=("not_reconnected",))
def reconnected(ev: Evidence) -> Finding:
    found = Finding()
    end = ev.phases.get("final_poll", ev.phases.get("done", float("inf")))
    gates = _gate_members(ev)
    cuts: dict[str, list[tuple[float, str]]] = defaultdict(list)  # member -> (when, why)
    gone: dict[str, float] = {}  # member -> when its gate crashed for good
    for op in ev.faults:
        v = op.value
        if v.get("phase") != "start":
            continue
        kind, names = str(v.get("fault")), [str(n) for n in v.get("names") or ()]
        for name in names:
            if kind in GATE_CUTS | {"crash"} and name in gates:
                for member in gates[name]:
                    if kind == "crash":
                        gone.setdefault(member, op.time)
                    else:
                        cuts[member].append((op.time, f"{kind} of {name}"))
            elif kind in LINK_CUTS and name.startswith(CLIENT_PROXY):
                cuts[name[len(CLIENT_PROXY):]].append((op.time, f"{kind} of its link"))
    joined: dict[str, float] = {}
    for (_, member), t in ev.joined.items():
        joined[member] = min(t, joined.get(member, t))
    for member, downs in ev.link_down.items():  # after its first join: not the first connect, a loss
        cuts[member] += [(t, "its stream ended") for t in downs if t > joined.get(member, float("-inf"))]
    back: dict[str, list[float]] = defaultdict(list)
    for op in ev.reconnects:
        back[op.process].append(op.time)
    due = missing = 0
    for member in sorted(cuts):
        judged = sorted(c for c in cuts[member] if c[0] < min(end, gone.get(member, end)))
        returns = sorted(back.get(member, ()))
        paid_until = float("-inf")
        last_unpaid: tuple[float, str] | None = None
        for when, why in judged:
            if when < paid_until:
                continue  # the reconnect that pays an earlier cut pays this one too
            due += 1
            after = next((t for t in returns if t > when), None)
            if after is None:
                last_unpaid = (when, why)
                break
            paid_until = after
        if last_unpaid is not None:
            missing += 1
            found.violation("not_reconnected", f"{member} was cut off at {last_unpaid[0]:.3f} s "
                            f"({last_unpaid[1]}) and never reconnected after", member=member)
    found.values.update(reconnects_due=due, reconnects_missing=missing)
    return found

