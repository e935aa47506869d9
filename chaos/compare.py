"""``pushchat chaos compare``: the same scenarios against several systems, one table of what each lost.

Each (scenario, system) is a campaign cell (``chaos.campaign``: worker processes, a folder each,
``SCENARIO/SYSTEM/seed-N``) judged by that system's expectations (``expect_on``). A pair the system
cannot run (a fault point for goverse) is a row that says so, not a run. The table's numbers are the
checker's; one a rule could not judge for that system is ``n/a`` (``Results.not_applicable``), never 0:

- lost: acknowledged, never shown to a member; lost by server: acknowledged, then gone from the room;
- dup, reord: shown twice, shown out of order;
- push failures logged: the servers' push failure and drop lines (ours, or Goverse's text lines);
- not pushed: acknowledged messages members had to show but were not pushed (shown by a poll, or never):
  the push failures the clients saw, to set against those logged;
- sends failed by a push: sends whose failure a push caused;
- recovery s: the longest a message sent while a fault was on took to be shown (messages never shown are
  in lost); ``-`` without faults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from chaos.reports import tables as report
from chaos.campaign import Cell
from chaos.checker.model import Results
from chaos.rundir import Judgement, RunFolder
from chaos.scenario.model import Scenario

HEADERS = ("scenario", "system", "verdict", "expect", "lost", "lost by server", "dup", "reord",
           "push failures logged", "not pushed", "sends failed by push", "recovery s")
LEGEND_LINES = (
    "lost: acknowledged, never shown;  lost by server: acknowledged, then gone from the room's history",
    "push failures logged: failure and drop lines in the servers' logs;  not pushed: messages members had to "
    "show but were not pushed (the failures the clients saw)",
    "recovery s: longest a message sent during a fault took to be shown;  n/a: the system gives no way to judge it",
)


@dataclass
class Row:
    """One (scenario, system): its run's judgement, or why it was not run."""

    scenario: str
    system: str
    folder: Path | None = None
    judged: Judgement | None = None
    refused: str | None = None    # why the system cannot run the scenario
    error: str | None = None      # why the run broke off
    cells: list[Any] = field(default_factory=list)


def plan(scenarios: Sequence[Scenario], systems: Sequence[str], seed: int | None = None
         ) -> tuple[list[Cell], list[Row]]:
    """The cells to run and every row in table order (scenario by scenario, then system); a pair the system
    cannot run has its row, with the reason, and no cell."""
    cells, rows = [], []
    for scenario in scenarios:
        for system in systems:
            try:
                scenario.for_system(system)
            except ValueError as exc:
                rows.append(Row(scenario.name, system, refused=str(exc).partition(": ")[2] or str(exc)))
                continue
            cells.append(Cell(scenario.name, scenario.path, scenario.seed if seed is None else seed, system=system))
            rows.append(Row(scenario.name, system))
    return cells, rows


def not_pushed(results: Results) -> int:
    """Acknowledged messages of others that members had to show and were not pushed (poll, join, or never)."""
    return sum(max(0, m.expected - m.by_push) for m in results.members)


def recovery(results: Results) -> float | None:
    """The longest visibility latency of a message sent while a fault was on; None without faults."""
    windows = [(w.start, w.end) for w in results.fault_windows]
    if not windows:
        return None
    during = [p.latency for p in results.latency_series if any(a <= p.send_time <= b for a, b in windows)]
    return max(during, default=0.0)


def cells_of(row: Row) -> list[Any]:
    """The row's cells, under HEADERS."""
    if row.refused is not None:
        return [row.scenario, row.system, "not run", "-", *(["n/a"] * 8)]
    if row.judged is None:
        return [row.scenario, row.system, "ERROR", "-", *(["-"] * 8)]
    r, outcomes = row.judged.results, row.judged.expectations
    met = sum(bool(o.passed) for o in outcomes)
    logged = "n/a" if report.judged(r, "push_failures") == report.NA else r.push_failures + r.push_drops
    back = recovery(r)
    return [row.scenario, row.system, r.verdict, f"{met}/{len(outcomes)} {'ok' if row.judged.passed else 'FAIL'}",
            r.lost, report.judged(r, "lost_by_server"), r.duplicates, r.reordered, logged, not_pushed(r),
            report.judged(r, "sends_failed_by_push"), "-" if back is None else f"{back:.1f}"]


def read(rows: list[Row], root: Path, cells: Sequence[Cell], errors: dict[Cell, str | None]) -> list[Row]:
    """Fill each run row from its cell's folder (its results.json)."""
    by_key = {(c.scenario, c.system): c for c in cells}
    for row in rows:
        cell = by_key.get((row.scenario, row.system))
        if cell is None:
            continue
        row.folder = root / cell.folder
        row.judged = RunFolder(row.folder).read_judgement()
        row.error = errors.get(cell)
    return rows


def text(rows: Sequence[Row], width: int | None = None) -> str:
    """The comparison as a text table, its legend, and the reason for each pair not run."""
    parts = [report.table(HEADERS, [cells_of(r) for r in rows], left=3, width=width), report.legend(LEGEND_LINES)]
    notes = [f"  {r.scenario} on {r.system}: not run: {r.refused}" for r in rows if r.refused]
    notes += [f"  {r.scenario} on {r.system}: ERROR: {r.error}" for r in rows if r.error and r.judged is None]
    return "\n".join(parts + notes)


def write_html(root: Path, rows: Sequence[Row], command: str) -> Path:
    """``compare.html`` in ``root``: the table, each judged row linking to its run's report."""
    from chaos.reports.html_report import render

    page = root / "compare.html"
    table = [{"cells": cells_of(r), "href": (r.folder / "report.html").relative_to(root).as_posix()
              if r.folder is not None and (r.folder / "report.html").is_file() else None,
              "class": "unknown" if r.judged is None else ("ok" if r.judged.passed else "fail"),
              "na": report.not_applicable_lines(r.judged.results) if r.judged else [],
              "refused": r.refused} for r in rows]
    page.write_text(render(
        "compare.html.j2", title="pushchat chaos compare", headers=HEADERS, rows=table, legend=LEGEND_LINES, command=command,
        root=str(root)), encoding="utf-8")
    return page
