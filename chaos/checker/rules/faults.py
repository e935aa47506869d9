"""The faults the nemesis applied or skipped, and each one's window (start to heal, or to the end)."""

from __future__ import annotations

from typing import Any, Mapping

from chaos.checker.evidence import Evidence
from chaos.checker.model import FaultWindow
from chaos.checker.rules.base import Finding, rule


@rule("faults", owns=("faults_applied", "faults_skipped", "fault_windows"))
def faults(ev: Evidence) -> Finding:
    applied = skipped = 0
    windows: list[FaultWindow] = []
    open_faults: dict[Any, tuple[float, Mapping[str, Any]]] = {}
    for op in ev.faults:
        v = op.value
        fid = v.get("id", (v.get("fault"), v.get("target")))
        phase = v.get("phase")
        if phase == "start":
            applied += 1
            open_faults[fid] = (op.time, v)
        elif phase == "skipped":
            skipped += 1
        elif phase == "heal" and fid in open_faults:
            start, started = open_faults.pop(fid)
            windows.append(FaultWindow(fid, str(started.get("fault")), str(started.get("target")), start, op.time))
    for fid, (start, v) in open_faults.items():  # never healed: open until the run's end
        windows.append(FaultWindow(fid, str(v.get("fault")), str(v.get("target")), start, ev.duration))
    return Finding({"faults_applied": applied, "faults_skipped": skipped, "fault_windows": windows})
