"""Half-open links noticed: a gate whose link to a node is cut in the kernel must notice it by itself.

An IP-layer cut (``chaos.faults.net_kinds``: ``net_drop_one_way``, ``net_partition``,
every packet of a ``gate I -> node J`` link dropped in the gate's
namespace; ``net_blackhole`` of node J or gate I, which cuts every link it
is on: its record lists them as ``cuts``) sends no RST and no FIN: only
keepalive can tell the gate its stream to node J is dead (or, on etcd, the
membership: node J's lease may lapse first, and the gate lets the link go
itself). Each such cut must be followed, before its heal, by the gate's
``node_stream_down`` for the proxy it dials (``dials`` in the history's
``net`` record) or its ``node_left`` for it; the time from the cut to
that line is the detection time. Cuts that drop only a share of the
packets (``net_packet_loss``) are not judged: TCP retransmits.
"""

from __future__ import annotations

import re
from typing import Any

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from system.contract import ts_seconds

_GATE_LINK = re.compile(r"^(gate\d+)-node\d+$")
#: How a gate lets a link go, by the address it dials: its stream to the node ended (keepalive, an error), or, on
#: etcd, the node left the membership (its lease lapsed on the cut side) and the gate closed the link itself.
NOTICED = (("node_stream_down", "node"), ("node_left", "dial"))


@rule("detection", owns=("cuts_noticed", "cuts_unnoticed", "detection_max"), kinds=("cut_unnoticed",),
      requires=("server_events",))
def detection(ev: Evidence) -> Finding:
    finding = Finding()
    removed = {(op.value.get("id"), op.value.get("table")): op.time for op in ev.net
               if op.value.get("phase") == "removed"}
    times: list[float] = []
    unnoticed = 0
    for op, v in _cuts(ev):
        m = _GATE_LINK.match(str(v.get("link", "")))
        if m is None or v.get("percent", 100) != 100:
            continue
        if ev.started_at is None:
            finding.incomplete.append("detection: the history has no wall-clock start (setup phase started_at)")
            break
        start = ev.started_at + op.time
        end = ev.started_at + removed.get((v.get("id"), v.get("table")), ev.duration)
        gate = m[1]
        seen = (ts_seconds(line.get("ts")) for process in ev.logs if process.partition("#")[0] == gate
                for event, key in NOTICED for line in ev.log_lines(process, event) if line.get(key) == v.get("dials"))
        noticed = [at for at in seen if at is not None and start <= at <= end]
        if noticed:
            times.append(round(min(noticed) - start, 3))
        else:
            unnoticed += 1
            finding.violation("cut_unnoticed", f"{gate} never noticed its link {v.get('link')} cut "
                                               f"({v.get('fault')}, {v.get('stream')}) in the {end - start:.1f} s "
                                               "it lasted: no node_stream_down for it")
    finding.values = {"cuts_noticed": len(times), "cuts_unnoticed": unnoticed,
                      "detection_max": max(times, default=None)}
    return finding


def _cuts(ev: Evidence) -> list[tuple[Any, dict[str, Any]]]:
    """Each loaded table's cut links: a link's own record, or one per link a blackhole's record lists."""
    out = []
    for op in ev.net:
        v = op.value
        if v.get("phase") != "loaded":
            continue
        for cut in v.get("cuts") or [{}]:
            out.append((op, {**v, **cut}))
    return out
