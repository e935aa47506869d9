"""``report.html``: one self-contained page per run folder, and one per campaign.

A person would rather read one page than five files. The run page holds a
timeline of phases, process incarnations, faults and client events (in the
spirit of Maelstrom's timeline.html), the latency plot inlined as a base64
PNG, the expectations, summary and per-member tables, and the violations,
each linked to the history lines it is about (the history is embedded, in
a collapsible listing). Nothing is fetched: no network, no external asset.
The layout is computed here; the Jinja2 templates in ``chaos/reports/templates``
only draw it.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2

from chaos import run_clock
from chaos.reports import tables as report
from chaos.history import Op, read as read_history
from chaos.rundir import Judgement, RunFolder
from system.contract import ts_seconds

MAX_HISTORY_LINES = 50_000      # a longer history is cut in the page (the file has it all)
MAX_LINKS_PER_VIOLATION = 12
PROCESS_KINDS = ("kill", "crash", "restart")  # faults that end a process incarnation
RESTARTED_AT_HEAL = ("kill", "restart")        # ... and those that start the next one when healed
PHASE_COLOURS = {"setup": "#c7d2e0", "workload": "#9fd49f", "heal": "#f2c46d", "recovery": "#a9c8f0",
                 "final_poll": "#c9a9f0", "done": "#dddddd"}
KIND_COLOURS = ["#e4572e", "#f3a712", "#a8c686", "#669bbc", "#8e6c8a", "#29335c", "#db2b39", "#56a3a6",
                "#b5838d", "#6d597a"]

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("chaos.reports", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True,
                          undefined=jinja2.StrictUndefined)


# ---- the timeline -------------------------------------------------------------------------------------------

@dataclass
class Bar:
    start: float
    end: float
    label: str
    title: str
    colour: str
    href: str = ""
    hatched: bool = False


@dataclass
class Tick:
    at: float
    label: str
    title: str
    colour: str
    href: str = ""


@dataclass
class Lane:
    name: str
    group: str                      # phases, processes, faults, clients
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)


@dataclass
class Timeline:
    end: float
    lanes: list[Lane]
    label_width: int = 170
    width: int = 1100
    lane_height: int = 22
    heading_height: int = 16  # a group's name has a row of its own: a long lane label never runs into it

    @property
    def plot_width(self) -> int:
        return self.width - self.label_width - 10

    def x(self, t: float) -> float:
        return round(self.label_width + max(0.0, min(t, self.end)) / self.end * self.plot_width, 2)

    def w(self, start: float, end: float) -> float:
        return round(max(1.5, self.x(end) - self.x(start)), 2)

    def rows(self) -> list[tuple[int, Lane, str | None]]:
        """Each lane's top, with its group's name when the lane is the group's first (drawn on the row above)."""
        rows, y, group = [], 20, None
        for lane in self.lanes:
            heading = lane.group if lane.group != group else None
            y += self.heading_height if heading else 0
            rows.append((y, lane, heading))
            y, group = y + self.lane_height, lane.group
        return rows

    @property
    def height(self) -> int:
        return 30 + self.lane_height * len(self.lanes) + self.heading_height * len({lane.group for lane in self.lanes})

    def axis(self) -> list[tuple[float, str]]:
        """Tick positions and labels of the time axis: about ten, at round steps."""
        step = next(s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1e9) if self.end / s <= 12)
        return [(self.x(i * step), f"{i * step:g}s") for i in range(int(self.end / step) + 1)]


def _href(op: Op) -> str:
    return f"#h{op.index}"


def _incarnation_starts(folder: Path, wall_start: float | None) -> dict[str, list[float]]:
    """Each node's and gate's incarnations' start times (history seconds), from their logs' first lines."""
    starts: dict[str, list[tuple[int, float]]] = {}
    for name, n, path in RunFolder(folder).server_logs():
        at = 0.0
        if wall_start is not None:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    first = ts_seconds(json.loads(f.readline())["ts"])
                at = 0.0 if first is None else max(0.0, first - wall_start)
            except (OSError, ValueError, KeyError, TypeError):
                at = 0.0
        starts.setdefault(name, []).append((n, at))
    return {name: [at for _, at in sorted(items)] for name, items in starts.items()}


def timeline(ops: Sequence[Op], folder: Path) -> Timeline:
    """Lanes for the phases, every server process's incarnations, every fault, and each client's events."""
    end = max((op.time for op in ops), default=1.0) or 1.0
    setup = next((op for op in ops if op.f == "phase" and op.value.get("name") == "setup"), None)
    wall_start = setup.value.get("started_at") if setup is not None else None
    lanes: list[Lane] = []

    phases = [op for op in ops if op.f == "phase"]
    lane = Lane("phases", "phases")
    for op, nxt in zip(phases, phases[1:] + [None]):
        name = str(op.value.get("name"))
        stop = nxt.time if nxt is not None else end
        lane.bars.append(Bar(op.time, stop, name, f"{name}: {op.time:.3f}-{stop:.3f}s",
                             PHASE_COLOURS.get(name, "#dddddd"), _href(op)))
    lanes.append(lane)

    faults = [op for op in ops if op.f == "fault"]
    kinds = sorted({str(op.value.get("fault")) for op in faults})
    colour = {k: KIND_COLOURS[i % len(KIND_COLOURS)] for i, k in enumerate(kinds)}

    # Process incarnations: started per their logs; ended by a kill, crash or clean restart of that process.
    starts = _incarnation_starts(folder, wall_start)
    logged = set(starts)
    stops: dict[str, list[tuple[float, str, str]]] = {}
    paused: dict[str, list[tuple[float, float, str]]] = {}
    open_pause: dict[tuple[Any, str], Op] = {}
    for op in faults:
        kind, phase = op.value.get("fault"), op.value.get("phase")
        for name in op.value.get("names") or []:
            if kind in PROCESS_KINDS and phase == "start":
                stops.setdefault(name, []).append((op.time, str(kind), _href(op)))
            elif kind == "pause" and phase == "start":
                open_pause[(op.value.get("id"), name)] = op
            elif kind == "pause" and phase == "heal" and (op.value.get("id"), name) in open_pause:
                began = open_pause.pop((op.value.get("id"), name))
                paused.setdefault(name, []).append((began.time, op.time, _href(began)))
            if kind in PROCESS_KINDS + ("pause",) and name not in logged:
                # no log of its own (store, etcd members): up from the start, and again after each restart
                starts.setdefault(name, [0.0])
                if kind in RESTARTED_AT_HEAL and phase == "heal":
                    starts[name].append(op.time)
    for (_, name), began in open_pause.items():
        paused.setdefault(name, []).append((began.time, end, _href(began)))
    for name in sorted(starts, key=_process_order):
        lane = Lane(name, "processes")
        ends = sorted(stops.get(name, []))
        for i, at in enumerate(starts[name]):
            stop_at, how, href = next(((t, k, h) for t, k, h in ends if t >= at - 1e-3), (end, "", ""))
            ends = [e for e in ends if e[0] > stop_at]
            lane.bars.append(Bar(at, stop_at, f"#{i + 1}", f"{name} incarnation #{i + 1}: {at:.3f}-{stop_at:.3f}s"
                                 + (f", ended by {how}" if how else ""), "#7fa7d9", href))
        for began, healed, href in paused.get(name, []):
            lane.bars.append(Bar(began, healed, "paused", f"{name} paused (SIGSTOP) {began:.3f}-{healed:.3f}s",
                                 "#444444", href, hatched=True))
        lanes.append(lane)

    opened: dict[Any, Op] = {}
    for op in faults:
        phase, key = op.value.get("phase"), op.value.get("id")
        kind, target = str(op.value.get("fault")), str(op.value.get("target"))
        if phase == "start":
            opened[key] = op
        elif phase == "heal" and key in opened:
            began = opened.pop(key)
            lanes.append(_fault_lane(began, op.time, kind, target, colour[kind]))
        elif phase in ("skipped", "error"):
            lane = Lane(f"{kind} {target}", "faults")
            why = op.value.get("reason") or op.value.get("error") or ""
            lane.ticks.append(Tick(op.time, phase, f"{kind} on {target} {phase}: {why}", "#999999", _href(op)))
            lanes.append(lane)
    for began in opened.values():  # never healed (the run broke off)
        lanes.append(_fault_lane(began, end, str(began.value.get("fault")), str(began.value.get("target")),
                                 colour[str(began.value.get("fault"))]))

    clients: dict[str, Lane] = {}
    for op in ops:
        tick = _client_tick(op)
        if tick is not None:
            clients.setdefault(op.process, Lane(op.process, "clients")).ticks.append(tick)
    for name in sorted({op.process for op in ops if op.f == "join"} | set(clients)):
        lanes.append(clients.get(name) or Lane(name, "clients"))
    return Timeline(end, lanes)


def _process_order(name: str) -> tuple[int, str]:
    return ({"node": 0, "gate": 1, "store": 2, "etcd": 3}.get(re.sub(r"\d+$", "", name), 4), name)


def _fault_lane(began: Op, end: float, kind: str, target: str, colour: str) -> Lane:
    params = ", ".join(f"{k}={v}" for k, v in (began.value.get("params") or {}).items())
    names = ", ".join(began.value.get("names") or [])
    lane = Lane(f"{kind} {target}", "faults")
    lane.bars.append(Bar(began.time, end, kind, f"{kind}({params}) on {target} [{names}]: {began.time:.3f}-"
                         f"{end:.3f}s", colour, _href(began)))
    return lane


_CLIENT_EVENTS = {("stream_end", "info"): ("end", "#d1495b"), ("reconnect", "ok"): ("reconnected", "#2e933c"),
                  ("reconnect", "fail"): ("reconnect failed", "#d1495b"), ("history_reset", "info"): ("reset", "#8e44ad"),
                  ("gap", "info"): ("gap", "#f39c12"), ("send", "fail"): ("send failed", "#c0392b"),
                  ("send", "info"): ("send unknown", "#e67e22"), ("join", "fail"): ("join failed", "#c0392b"),
                  ("poll", "fail"): ("poll failed", "#c0392b")}


def _client_tick(op: Op) -> Tick | None:
    if op.process in ("runner", "nemesis"):
        return None
    what = _CLIENT_EVENTS.get((op.f, op.type))
    if what is None:
        return None
    label, colour = what
    detail = ", ".join(f"{k}={v}" for k, v in op.value.items() if k != "text")
    return Tick(op.time, label, f"{op.process} {label} at {op.time:.3f}s: {detail}", colour, _href(op))


# ---- the run page ---------------------------------------------------------------------------------------------

def _links(ops: Sequence[Op]) -> dict[str, list[int]]:
    """History lines by the client message id they are about (send, ok, deliver, push)."""
    by_message: dict[str, list[int]] = {}
    for op in ops:
        message = op.value.get("client_msg_id")
        if isinstance(message, str):
            by_message.setdefault(message, []).append(op.index)
    return by_message


class _Index:
    """The history by index and each member's failures and final polls, built once for every violation (per
    violation, a load run's thousands of violations walked its 10^5 lines each: minutes)."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.by_index = {op.index: op for op in ops}
        self.own: dict[str, list[Op]] = {}
        for op in ops:
            if op.type in ("fail", "info") or op.f == "final_poll":
                self.own.setdefault(op.process, []).append(op)


def _violation_lines(v: Mapping[str, Any], by_message: Mapping[str, list[int]], ops: Sequence[Op],
                     index: _Index | None = None) -> list[int]:
    """The history lines a violation is about: its message's send and the member's showings of it."""
    message, member, room = v.get("message"), v.get("member"), v.get("room")
    index = index or _Index(ops)
    if message and message in by_message:
        lines = by_message[message]
        if member:
            process = index.by_index
            lines = [i for i in lines if process[i].process == member or process[i].f == "send"] or lines
        return lines[:MAX_LINKS_PER_VIOLATION]
    if member:  # no message named: the member's own failures and final poll in that room
        return [op.index for op in index.own.get(member, [])
                if room is None or op.value.get("room") in (room, None)][:MAX_LINKS_PER_VIOLATION]
    return []


def _png(folder: RunFolder, results: Any, title: str) -> str:
    path = folder.latency_plot
    if not path.is_file():
        report.plot_latency(results, None, path, title=title)
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _history_line(op: Op) -> dict[str, Any]:
    return {"index": op.index, "time": f"{op.time:.6f}", "process": op.process, "type": op.type, "f": op.f,
            "value": json.dumps(dict(op.value), separators=(", ", ": "), default=str)}


def run_context(folder: Path, judged: Judgement | None = None) -> dict[str, Any]:
    """Everything the run page shows, from a finished run folder (``judged``: its results.json, if at hand)."""
    run = RunFolder(folder)
    judged = judged or run.read_judgement()
    if judged is None:
        raise ValueError(f"{run.results} is missing or holds no results: the run was not judged")
    results, name = judged.results, judged.scenario or run.path.name
    ops = read_history(run.history) if run.history.is_file() else []
    ops = sorted(ops, key=lambda op: op.index)
    by_message = _links(ops)
    setup = next((op for op in ops if op.f == "phase" and op.value.get("name") == "setup"), None)
    row = report.SummaryRow(name, results, judged.expectations, float(judged.run_seconds or 0.0))
    headers, cells = report.summary_cells(row)
    index = _Index(ops)
    violations = [dict(asdict(v), lines=_violation_lines(asdict(v), by_message, ops, index))
                  for v in results.violations]
    return {
        "title": f"{name}: chaos run report",
        "scenario": name, "description": judged.description,
        "passed": judged.passed, "verdict": results.verdict,
        "seed": setup.value.get("seed") if setup is not None else None,
        "notes": list(setup.value.get("notes") or []) if setup is not None else [],
        "run_seconds": judged.run_seconds, "folder": str(folder),
        "expectations": judged.expectations,
        "summary_headers": headers, "summary_cells": cells, "legend": report.SUMMARY_LEGEND,
        "latency_line": report.latency_line(results),
        "members": results.members, "push_logs": results.push_logs,
        "failovers": results.failover_times, "incomplete": results.incomplete,
        "not_applicable": report.not_applicable_lines(results), "system": results.system,
        "violations": violations,
        "schedule": run_clock.fault_rows(run.read_schedule(), report.field(results, "fault_windows") or [], ops),
        "origin": run_clock.ORIGIN, "workload_at": run_clock.workload_start(ops),
        "timeline": timeline(ops, folder),
        "png": _png(run, results, judged.scenario),
        "history": [_history_line(op) for op in ops[:MAX_HISTORY_LINES]],
        "history_total": len(ops), "history_cut": len(ops) > MAX_HISTORY_LINES,
    }


def write_run(folder: str | Path, judged: Judgement | None = None) -> Path:
    """Write ``report.html`` into a finished run folder (one that holds results.json; ``judged``: what it holds,
    when the caller has just written it)."""
    folder = Path(folder)
    page = RunFolder(folder).report
    page.write_text(_ENV.get_template("run.html.j2").render(**run_context(folder, judged)), encoding="utf-8")
    return page


# ---- the campaign page ---------------------------------------------------------------------------------------

def campaign_context(root: Path, doc: Mapping[str, Any]) -> dict[str, Any]:
    cells = {(c["scenario"], _column(c, doc)): c for c in doc["cells"]}
    rows = []
    for name in doc["matrix"]:
        row = []
        for col in doc["columns"]:
            cell = cells.get((name, col))
            if cell is None:
                row.append(None)
                continue
            page = root / cell["folder"] / "report.html"
            row.append({**cell, "text": doc["matrix"][name].get(col, ""),
                        "href": f"{cell['folder']}/report.html" if page.is_file() else "",
                        "class": {"met": "ok", "failed": "fail"}.get(cell["outcome"], "unknown")})
        rows.append((name, row))
    return {"title": "chaos campaign report", "doc": doc, "rows": rows, "legend": report.CAMPAIGN_LEGEND,
            "totals_text": report.campaign_totals(dict(doc)),
            "failed": [c for c in doc["cells"] if c["outcome"] != "met"], "root": str(root)}


def _column(cell: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    return f"seed {cell['seed']}" + (f" #{cell['repeat']}" if doc.get("repeat", 1) > 1 else "")


def render(template: str, **context: Any) -> str:
    """A page from one of ``chaos/reports/templates`` (others' pages, e.g. ``chaos.compare``, share the look)."""
    return _ENV.get_template(template).render(**context)


def write_campaign(root: str | Path, doc: Mapping[str, Any]) -> Path:
    """Write the campaign's ``report.html``: the matrix (each cell linking to its run's page) and the totals."""
    root = Path(root)
    page = root / "report.html"
    page.write_text(_ENV.get_template("campaign.html.j2").render(**campaign_context(root, doc)), encoding="utf-8")
    return page
