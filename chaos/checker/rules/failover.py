"""How long rooms went unserved when they changed owner: a number to report, and to bound.

Read from the nodes' logs: each ``message_stored`` line (not a duplicate)
says which node made a room's message durable, and when. When the node
storing a room's messages changes, the room has failed over; the time from
the old owner's last acknowledgement to the new owner's first is the
failover time (it includes waiting for the lease to expire, the gates
rerouting and the new owner loading the room). A node that restarts and
keeps its rooms is not a failover.
"""

from __future__ import annotations

from collections import defaultdict

from chaos.checker.evidence import Evidence
from chaos.checker.model import Failover
from chaos.checker.rules.base import Finding, rule
from system.contract import ts_seconds


def _node(process: str) -> str:
    return process.partition("#")[0]


@rule("failover", owns=("failovers", "failover_max", "failover_times"), requires=("server_events",))
def failover(ev: Evidence) -> Finding:
    stored: dict[str, list[tuple[float, str]]] = defaultdict(list)  # room -> (ts, node)
    for process in ev.logs:
        if not process.startswith("node"):
            continue
        for line in ev.log_lines(process, "message_stored"):
            at = ts_seconds(line.get("ts"))
            if line.get("duplicate") or at is None:
                continue
            stored[str(line.get("room", ""))].append((at, _node(process)))
    times: list[Failover] = []
    for room, acks in sorted(stored.items()):
        acks.sort()
        for (t0, old), (t1, new) in zip(acks, acks[1:]):
            if new != old:
                times.append(Failover(room, old, new, t0, t1, round(t1 - t0, 3)))
    return Finding({"failovers": len(times), "failover_max": max((f.seconds for f in times), default=None),
                    "failover_times": times})
