"""Tables and the latency plot of a chaos run.

Everything here reads a checker ``Results`` (or its results.json dict), so
a finished run can be re-reported without re-running it. matplotlib is
imported only when a plot is drawn.
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from chaos.checker.model import na_reason
from chaos.run_clock import ORIGIN

MAX_VIOLATIONS_SHOWN = 20


@dataclass
class SummaryRow:
    scenario: str
    results: Any                 # checker.Results or its dict
    outcomes: Sequence[Any]      # scenario.ExpectationOutcome (or dicts with "passed")
    duration: float              # wall seconds of the whole scenario run

    @property
    def passed(self) -> bool:
        return all(field(o, "passed") for o in self.outcomes)


def field(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a checker ``Results`` (or of its results.json dict)."""
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


NA = "n/a"


def judged(obj: Any, name: str, default: Any = None) -> Any:
    """A number of a checker ``Results`` as a table shows it: ``n/a`` when the run's system gives no way to
    judge it (``Results.not_applicable``), never its unset 0."""
    return NA if na_reason(field(obj, "not_applicable"), name) is not None else field(obj, name, default)


def not_applicable_lines(results: Any) -> list[str]:
    """One line per rule (or part of one) that could not judge the run's system: what, and why."""
    out = []
    for item in field(results, "not_applicable", None) or ():
        rule, names, why = field(item, "rule"), field(item, "fields", []), field(item, "reason")
        out.append(f"{rule}{' (' + ', '.join(names) + ')' if names else ''}: {why}")
    return out



def count(n: int, noun: str) -> str:
    """``1 scenario``, ``3 scenarios``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


DEFAULT_WIDTH = 100  # columns, when the output is not a terminal (a pipe, a CI log)
NARROWEST = 60       # a terminal narrower than this still gets tables this wide
_GAP = 2             # spaces between columns


def terminal_width() -> int:
    """The columns a report may fill: the terminal's, or DEFAULT_WIDTH when there is none."""
    return max(NARROWEST, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1, width: int | None = None,
          wrap: int | None = None) -> str:
    """An aligned text table; the first ``left`` columns are left-aligned, the rest right.

    With ``width``, it fits that many columns: the text of column ``wrap`` (a description) is wrapped onto
    more lines; a table still too wide is folded into blocks of columns, one under the other, each
    repeating the first column, as a wide data frame is printed."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if width is not None and wrap is not None:
        others = sum(w for i, w in enumerate(widths) if i != wrap) + _GAP * (len(widths) - 1)
        widths[wrap] = max(min(widths[wrap], width - others), len(cells[0][wrap]), 20)
    blocks: list[list[int]] = [[0]]
    for i in range(1, len(headers)):
        block = blocks[-1]
        if width is not None and len(block) > 1 and sum(widths[j] + _GAP for j in block) + widths[i] > width:
            blocks.append([0])
        blocks[-1].append(i)
    return "\n\n".join(_block(cells, widths, columns, left, wrap) for columns in blocks)


def _block(cells: list[list[str]], widths: list[int], columns: list[int], left: int, wrap: int | None) -> str:
    """Some columns of a table: header, rule, rows (a wrapped cell's further lines under it)."""
    out = []
    for n, row in enumerate(cells):
        parts = {i: (textwrap.wrap(row[i], widths[i]) or [""]) if i == wrap and n else [row[i]] for i in columns}
        for k in range(max(len(p) for p in parts.values())):
            texts = [(parts[i][k] if k < len(parts[i]) else "", widths[i], i < left) for i in columns]
            out.append((" " * _GAP).join(t.ljust(w) if lft else t.rjust(w) for t, w, lft in texts).rstrip())
        if n == 0:
            out.append((" " * _GAP).join("-" * widths[i] for i in columns))
    return "\n".join(out)


#: what the summary's columns mean, a short line each (printed under the table)
SUMMARY_LEGEND_LINES = (
    "sends: ok/failed/indefinite;  pushes: shown by push/failed on a node/dropped by a gate",
    "lost: acknowledged, never shown to a member",
    "lost by server: acknowledged, then gone from the server's history",
    "dup, reord: shown twice, shown out of order;  phantom: shown, never sent",
    "seq conflicts: two messages under one number",
    "failover: rooms that moved to another node, and the longest wait",
)
SUMMARY_LEGEND = "; ".join(SUMMARY_LEGEND_LINES)  # as one line, for the HTML page


SUMMARY_HEADERS = ("scenario", "verdict", "expect", "sends", "pushes", "by poll", "lost", "lost by server", "dup",
                   "reord", "phantom", "seq conflicts", "failover s", "p50 ms", "p99 ms", "time s")


def summary_cells(row: SummaryRow) -> tuple[tuple[str, ...], list[Any]]:
    """One scenario's summary line as cells, under SUMMARY_HEADERS (the text table and the HTML page share it)."""
    r = row.results
    met = sum(bool(field(o, "passed")) for o in row.outcomes)
    return SUMMARY_HEADERS, [
        row.scenario, field(r, "verdict"), f"{met}/{len(row.outcomes)} {'ok' if row.passed else 'FAIL'}",
        f"{field(r, 'sends_ok')}/{field(r, 'sends_failed')}/{field(r, 'sends_indefinite')}",
        f"{field(r, 'delivered_by_push')}/{judged(r, 'push_failures')}/{judged(r, 'push_drops')}",
        field(r, "delivered_by_poll"), field(r, "lost"), judged(r, "lost_by_server"), field(r, "duplicates"),
        field(r, "reordered"), field(r, "phantom"), judged(r, "conflicting_seq", 0),
        _failover(r), _ms(field(r, "latency_p50")), _ms(field(r, "latency_p99")), f"{row.duration:.1f}",
    ]


def summary_table(rows: Sequence[SummaryRow], width: int | None = None) -> str:
    """One line per scenario: did it meet its expectations, and the numbers behind it (within ``width``).

    Every kind of loss the checker counts has its own column, so a scenario that
    expects one (node-kill-restart: ``lost_by_server > 0``) shows it next to its "ok".
    """
    return table(SUMMARY_HEADERS, [summary_cells(row)[1] for row in rows], left=3, width=width)


def legend(lines: Sequence[str]) -> str:
    """A table's legend, under it: a few short indented lines."""
    return "\n".join(f"  {line}" for line in lines)


def _failover(results: Any) -> str:
    """How many rooms failed over, and the longest wait: '2 (max 2.9)', or '-'."""
    count = field(results, "failovers", 0) or 0
    return f"{count} (max {field(results, 'failover_max'):.1f})" if count else "-"


def latency_line(results: Any) -> str:
    """Visibility latency quantiles (0, .5, .95, .99, 1) and how messages came to be shown."""
    q = "  ".join(f"{label} {_ms(field(results, name))}" for label, name in (
        ("min", "latency_min"), ("p50", "latency_p50"), ("p95", "latency_p95"), ("p99", "latency_p99"),
        ("max", "latency_max")))
    return (f"visibility latency (ms): {q};  shown by push {field(results, 'delivered_by_push')}, "
            f"by poll {field(results, 'delivered_by_poll')}, by join {field(results, 'delivered_by_join')}")


def expectations_table(outcomes: Sequence[Any]) -> str:
    return table(["expectation", "wanted", "actual", "ok"],
                 [[field(o, "name"), field(o, "wanted"), field(o, "actual"), "yes" if field(o, "passed") else "NO"]
                  for o in outcomes], left=3)


def results_detail(results: Any) -> str:
    """Per room and member counts, then push logs vs counters, violations, and what is incomplete."""
    members = [m if isinstance(m, dict) else asdict(m) for m in field(results, "members", [])]
    parts = [table(["room", "member", "expected", "shown", "by push", "by poll", "by join", "lost", "dup",
                    "reord", "phantom", "final poll"],
                   [[m["room"], m["member"], m["expected"], m["shown"], m["by_push"], m["by_poll"], m["by_join"],
                     m["lost"], m["duplicates"], m["reordered"], m["phantom"], "yes" if m["final_poll"] else "NO"]
                    for m in members], left=2)]
    logs = [c if isinstance(c, dict) else asdict(c) for c in field(results, "push_logs", [])]
    if logs:
        parts.append(table(["process", "event", "logged", "counted", "note"], [
            [c["process"], c["event"], sum(c["logged"].values()),
             "-" if c["counted"] is None else sum(c["counted"].values()), c["note"]] for c in logs], left=2))
    failovers = [f if isinstance(f, dict) else asdict(f) for f in field(results, "failover_times", [])]
    if failovers:
        parts.append(table(["room", "from", "to", "failover s"],
                           [[f["room"], f["old"], f["new"], f"{f['seconds']:.3f}"] for f in failovers], left=2))
    violations = field(results, "violations", [])
    if violations:
        lines = [f"violations ({len(violations)}):"]
        lines += [f"  [{field(v, 'kind')}] {field(v, 'reason')}" for v in violations[:MAX_VIOLATIONS_SHOWN]]
        if len(violations) > MAX_VIOLATIONS_SHOWN:
            lines.append(f"  ... and {len(violations) - MAX_VIOLATIONS_SHOWN} more in results.json")
        parts.append("\n".join(lines))
    incomplete = field(results, "incomplete", [])
    if incomplete:
        parts.append("\n".join(["incomplete (verdict can be at best unknown):"] + [f"  {i}" for i in incomplete]))
    na = not_applicable_lines(results)
    if na:
        parts.append("\n".join([f"n/a for {field(results, 'system', 'this system')} (not judged, not passed):"]
                                + [f"  {line}" for line in na]))
    return "\n\n".join(parts)


_MARKERS = {"push": "o", "poll": "x", "join": "^"}
LEGEND_MEMBERS = 20  # members the latency plot tells apart by colour


def plot_latency(results: Any, faults: Iterable[Any] | None, path: str | Path, title: str = "") -> Path:
    """Draw :func:`latency_figure` into the PNG ``path``."""
    path = Path(path)
    latency_figure(results, faults, title).savefig(path, format="png")
    return path


def latency_figure(results: Any, faults: Iterable[Any] | None, title: str = "") -> Any:
    """Visibility latency over send time, one colour per member and one marker per source,
    with fault windows shaded. ``faults``: objects with kind, target, start, end in
    history time (run_clock.ORIGIN); None takes the applied windows the checker found in the history."""
    from matplotlib.figure import Figure  # lazily: only runs that plot pay for matplotlib
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    points = [p if isinstance(p, dict) else asdict(p) for p in field(results, "latency_series", [])]
    windows = list(field(results, "fault_windows", []) if faults is None else faults)
    fig = Figure(figsize=(11, 5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    members = sorted({p["member"] for p in points})
    # A colour per member says who lagged; past LEGEND_MEMBERS (a load run) it says nothing: one colour then.
    colours = {m: f"C{i % 10}" if len(members) <= LEGEND_MEMBERS else "C0" for i, m in enumerate(members)}
    groups: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for p in points:  # one pass (a load run has 10^5 points): grouped by member and source
        xs, ys = groups.setdefault((colours[p["member"]], p["source"]), ([], []))
        xs.append(p["send_time"])
        ys.append(max(p["latency"], 1e-4) * 1000)
    for (colour, source), (xs, ys) in sorted(groups.items()):
        if source in _MARKERS:
            ax.scatter(xs, ys, s=14 if len(points) < 10_000 else 4, marker=_MARKERS[source], color=colour,
                       alpha=0.75, linewidths=1)
    if len(members) > LEGEND_MEMBERS:
        members = []  # no legend entry per member
    if not points:
        ax.text(0.5, 0.5, "no deliveries to other members", transform=ax.transAxes, ha="center", color="grey")
    elif max(p["latency"] for p in points) / max(min(p["latency"] for p in points), 1e-4) > 100:
        ax.set_yscale("log")
    label_at = blended_transform_factory(ax.transData, ax.transAxes)
    for i, w in enumerate(windows):
        start, end = float(field(w, "start")), float(field(w, "end"))
        ax.axvspan(start, end, color=f"C{(i + 3) % 10}", alpha=0.15, linewidth=0, gid=f"fault {field(w, 'id')}")
        ax.text(start, 0.98 - 0.06 * (i % 5), f" {field(w, 'kind')} {field(w, 'target')}", transform=label_at,
                va="top", fontsize=8)
    handles = [Line2D([], [], marker="o", linestyle="", color=colours[m], label=m) for m in members]
    handles += [Line2D([], [], marker=mk, linestyle="", color="black", label=f"by {s}") for s, mk in _MARKERS.items()]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_xlabel(f"send time ({ORIGIN})")
    ax.set_ylabel("visibility latency (ms)")
    verdict = field(results, "verdict")
    ax.set_title(f"{title + ': ' if title else ''}visibility latency, faults shaded (verdict {verdict})")
    ax.grid(True, alpha=0.3)
    return fig


def row_dict(row: SummaryRow) -> dict[str, Any]:
    """A summary row as JSON-ready data, for a runner's combined results.json."""
    r = row.results
    return {"scenario": row.scenario, "passed": row.passed, "duration": row.duration,
            "results": r.to_dict() if hasattr(r, "to_dict") else r,
            "expectations": [asdict(o) if is_dataclass(o) else o for o in row.outcomes]}


CAMPAIGN_LEGEND_LINES = (
    "a cell: the verdict, FAIL when the run did not meet its expectations, ERROR when it broke off;",
    "then lost, lost-by-server, dup and conflicts where they are not 0",
)
CAMPAIGN_LEGEND = " ".join(CAMPAIGN_LEGEND_LINES)  # as one line, for the HTML page


def campaign_matrix(doc: dict[str, Any], width: int | None = None) -> str:
    """Scenario × seed: one text cell per run, as campaign.json's ``matrix`` holds it."""
    cols = list(doc["columns"])
    return table(["scenario", *cols], [[name, *(cells.get(c, "") for c in cols)]
                                       for name, cells in doc["matrix"].items()], left=len(cols) + 1, width=width)


def _logged(logged: int, counted: int) -> str:
    """Lines logged, and what the counters say only where they disagree: ``3``, ``3 (5 counted)``."""
    return f"{logged}" if logged == counted else f"{logged} ({counted} counted)"


def _pushes(t: dict[str, Any]) -> str:
    return (f"{_logged(t['push_failures'], t['push_failures_counted'])}/"
            f"{_logged(t['push_drops'], t['push_drops_counted'])}")


CAMPAIGN_SCENARIOS_LEGEND_LINES = (
    "push failed/dropped: the lines logged; '(N counted)' where the counters say otherwise",
)


def campaign_scenarios_table(doc: dict[str, Any], width: int | None = None) -> str:
    """Per scenario: how its runs ended and what they add up to."""
    return table(["scenario", "runs", "met", "failed", "not judged", "sends ok/fail/indef", "lost", "lost by server",
                  "dup", "reord", "seq conflicts", "push failed/dropped", "longest s"],
                 [[name, t["runs"], t["met"], t["failed"], t["not_judged"],
                   f"{t['sends_ok']}/{t['sends_failed']}/{t['sends_indefinite']}", t["lost"], t["lost_by_server"],
                   t["duplicates"], t["reordered"], t["conflicting_seq"], _pushes(t), f"{t['longest_run']:.1f}"]
                  for name, t in doc["scenarios"].items()], width=width)


def campaign_totals(doc: dict[str, Any]) -> str:
    """The whole campaign in a few lines: runs, acknowledged sends, every kind of loss, push failures."""
    t = doc["totals"]
    return "\n".join([
        f"runs: {t['runs']} ({t['met']} met, {t['failed']} failed, {t['not_judged']} not judged; verdicts "
        f"{t['valid']} valid, {t['invalid']} invalid, {t['unknown']} unknown) in {doc['wall_seconds']:.1f}s wall "
        f"with {doc['jobs']} jobs ({t['run_seconds']:.1f}s of runs)",
        f"acknowledged sends: {t['sends_ok']} (failed {t['sends_failed']}, indefinite {t['sends_indefinite']})",
        f"lost: {t['lost']}  duplicates: {t['duplicates']}  reordered: {t['reordered']}  phantom: {t['phantom']}  "
        f"lost_by_server: {t['lost_by_server']}  conflicting_seq: {t['conflicting_seq']}  "
        f"history_resets: {t['history_resets']}",
        f"push failures: {t['push_failures']} logged, {t['push_failures_counted']} counted;  push drops: "
        f"{t['push_drops']} logged, {t['push_drops_counted']} counted;  log/counter mismatches: "
        f"{t['push_log_mismatches']};  sends failed by a push: {t['sends_failed_by_push']}",
        f"shown by push {t['delivered_by_push']}, by poll {t['delivered_by_poll']};  reconnects {t['reconnects']};  "
        f"failovers {t['failovers']};  faults applied {t['faults_applied']}, skipped {t['faults_skipped']}",
    ])


def campaign_slowest(doc: dict[str, Any]) -> str:
    return table(["scenario", "seed", "time s", "folder"],
                 [[s["scenario"], s["seed"] if s.get("repeat", 1) == 1 else f"{s['seed']} #{s['repeat']}",
                   f"{s['duration']:.1f}", s["folder"]] for s in doc["slowest"]], left=1)


def run_block(label: str, row: SummaryRow, out: Path, notes: Sequence[str] = ()) -> str:
    """One scenario's block, as ``pushchat chaos run`` prints it and a campaign cell's run.log keeps it:
    verdict line, expectations, latency, the detail when something is off, and where report.html is."""
    results = row.results
    lines = [f"\n{label}: {'met its expectations' if row.passed else 'FAILED its expectations'} "
             f"(verdict {field(results, 'verdict')}, {row.duration:.1f}s) -> {out}"]
    lines += [f"  note: {note}" for note in notes]
    lines += [expectations_table(row.outcomes), latency_line(results)]
    if not row.passed or field(results, "verdict") != "valid":
        lines.append(results_detail(results))
    if (out / "report.html").is_file():
        lines.append(f"HTML report: {out / 'report.html'}")
    return "\n".join(lines)
