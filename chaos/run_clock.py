"""One time origin for everything a run's report shows: seconds since the run started.

The history counts from its first line (the setup phase), and so do the
timeline, the latency plot and the history listing. A scenario file's fault
times count from the workload's start instead, which comes a second or two
later; shown as written, a fault read 1.0-5.0 s in one table and 2.0-6.0 s
on the timeline. The report turns every fault time into run time here: the
window the nemesis applied (as the checker found it, the same the plot
shades), or, for a fault never applied, the planned one moved by when the
workload began.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from chaos.history import Op

ORIGIN = "s since the run started"  # the label of every time a report shows


def workload_start(ops: Sequence[Op]) -> float:
    """When the workload began, in run time (0 if the history has no workload phase)."""
    return next((op.time for op in ops if op.f == "phase" and op.value.get("name") == "workload"), 0.0)


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def fault_rows(schedule: Sequence[Mapping[str, Any]], windows: Sequence[Any], ops: Sequence[Op]
               ) -> list[dict[str, Any]]:
    """The fault table: each scheduled fault's window in run time and whether it was applied.

    ``schedule``: schedule.json's entries (times from the workload's start); ``windows``: the checker's
    fault windows (history time); ``ops``: the history, for when the workload began and for skips."""
    offset = workload_start(ops)
    applied = {str(_field(w, "id")): w for w in windows}
    skipped = {str(op.value.get("id")): op.value.get("reason") or op.value.get("error") or op.value.get("phase")
               for op in ops if op.f == "fault" and op.value.get("phase") in ("skipped", "error")}
    rows = []
    for f in schedule:
        key, planned = str(f.get("id")), (float(f["start"]) + offset, float(f["end"]) + offset)
        w = applied.get(key)
        start, end = (float(_field(w, "start")), float(_field(w, "end"))) if w is not None else planned
        note = ("applied" if w is not None else f"not applied: {skipped[key]}" if key in skipped
                else "not applied")
        rows.append({"id": f.get("id"), "kind": f.get("kind"), "target": f.get("target"),
                     "start": f"{start:.3f}", "end": f"{end:.3f}", "note": note, "params": f.get("params") or {},
                     "written": f"{float(f['start']):g}-{float(f['end']):g}"})  # as the scenario file has it
    return rows
