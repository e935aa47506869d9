"""A finished run folder as a Chaos Toolkit journal (``pushchat chaos run --ctk-journal FILE``).

Their reporting tools read journals: the experiment (title, steady-state
hypothesis, method, rollbacks), ``status`` (completed, failed, aborted,
interrupted), ``deviated``, ``steady_states`` (before / after / during),
``run[]`` (one entry per activity: its output, status, start, end,
duration) and ``rollbacks[]``. Our run maps onto it so:

- the experiment is the scenario; its method is the fault schedule, each
  fault an action of ``chaos.ctk.inject``; its hypothesis is the scenario's
  expectations, each a probe of ``chaos.ctk.result`` with a ``chaos.ctk.holds``
  tolerance (so chaoslib's own validator accepts the experiment);
- ``run[]`` holds each fault as applied (start and heal from the history,
  the parts it hit), ``steady_states.after`` the expectations' outcomes;
- ``status`` is ``completed`` when the run was judged (``deviated`` when an
  expectation failed), ``aborted`` when the run broke off.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from chaos.history import read as read_history
from chaos.rundir import RunFolder
from chaos.scenario.model import Scenario

MODULE = "chaos.ctk"


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat()


def _python(func: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "python", "module": MODULE, "func": func}
    if arguments:
        provider["arguments"] = dict(arguments)
    return provider


def _probe(expectation: Any) -> dict[str, Any]:
    name, op, value = expectation.name, expectation.op, expectation.value
    return {"type": "probe", "name": f"{name} {expectation.wanted}",
            "tolerance": {"type": "probe", "name": f"holds {expectation.wanted}",
                          "provider": _python("holds", {"op": op, "wanted": list(value) if op == "in" else value})},
            "provider": _python("result", {"name": name})}


def _action(fault: Mapping[str, Any]) -> dict[str, Any]:
    arguments = {"kind": fault["kind"], "target": fault["target"], "duration": fault["duration"]}
    if fault.get("params"):
        arguments["params"] = fault["params"]
    return {"type": "action", "name": f"{fault['kind']} on {fault['target']}", "provider": _python("inject", arguments),
            "pauses": {"before": fault["start"]}}


def experiment(scenario: Scenario, seed: int | None, schedule: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The scenario as a Chaos Toolkit experiment: hypothesis = its expectations, method = its faults."""
    return {
        "version": "1.0.0",
        "title": f"pushchat scenario {scenario.name}",
        "description": scenario.description or f"the pushchat chaos scenario {scenario.name}",
        "tags": ["pushchat", *scenario.groups],
        "configuration": {"scenario": str(scenario.path), "seed": scenario.seed if seed is None else seed},
        "steady-state-hypothesis": {"title": "the scenario's expectations hold",
                                    "probes": [_probe(e) for e in scenario.expect]},
        "method": [_action(f) for f in schedule],
        "rollbacks": [],
    }


def _activity_runs(ops: list[Any], exp: dict[str, Any], schedule: list[Mapping[str, Any]],
                   wall0: float) -> list[dict[str, Any]]:
    """One entry per fault of the schedule: when it was applied and healed, and what it hit."""
    runs = []
    by_id: dict[Any, dict[str, Any]] = {}
    for op in ops:
        if op.f != "fault":
            continue
        entry = by_id.setdefault(op.value.get("id"), {"names": op.value.get("names") or []})
        entry.setdefault(str(op.value.get("phase")), op.time)
        if op.value.get("phase") in ("skipped", "error"):
            entry["why"] = op.value.get("reason") or op.value.get("error")
    for fault, action in zip(schedule, exp["method"]):
        seen = by_id.get(fault.get("id"), {})
        began = seen.get("start", seen.get("skipped", seen.get("error")))
        if began is None:
            continue  # never reached (the run broke off first)
        ended = seen.get("heal", began)
        run: dict[str, Any] = {"activity": action, "status": "succeeded" if "start" in seen else "failed",
                               "output": {"names": seen["names"], "healed": "heal" in seen},
                               "start": _iso(wall0 + began), "end": _iso(wall0 + ended),
                               "duration": round(ended - began, 6)}
        if "start" not in seen:
            run["exception"] = [f"{action['name']}: {seen.get('why') or 'not applied'}\n"]
        runs.append(run)
    return runs


def from_run(folder: str | Path, scenario: Scenario, error: str | None = None) -> dict[str, Any]:
    """The journal of the run in ``folder`` (judged, or broken off with ``error``)."""
    run = RunFolder(folder)
    ops = read_history(run.history) if run.history.is_file() else []
    setup = next((op for op in ops if op.f == "phase" and op.value.get("name") == "setup"), None)
    seed = setup.value.get("seed") if setup is not None else None
    wall0 = float(setup.value.get("started_at") or 0.0) if setup is not None else 0.0
    if not wall0 and ops:  # a run from before the setup phase carried the wall clock: its file's last write
        wall0 = run.history.stat().st_mtime - ops[-1].time
    schedule = run.read_schedule()
    exp = experiment(scenario, seed, schedule)
    ended = wall0 + (ops[-1].time if ops else 0.0)
    saved = run.read_judgement()
    judged = saved if error is None else None
    journal: dict[str, Any] = {
        "chaoslib-version": _chaoslib_version(), "platform": platform.platform(), "node": platform.node(),
        "experiment": exp, "start": _iso(wall0), "end": _iso(ended), "duration": round(ended - wall0, 6),
        "status": "completed" if judged is not None else "aborted",
        "deviated": judged is not None and not judged.passed,
        "steady_states": {"before": None, "after": None, "during": []},
        "run": _activity_runs(ops, exp, schedule, wall0),
        "rollbacks": [],
        "pushchat": {"run_folder": str(folder), "verdict": saved.results.verdict if saved is not None else None,
                     "error": error},
    }
    if judged is not None:
        at = _iso(ended)
        probes = []
        for probe, outcome in zip(exp["steady-state-hypothesis"]["probes"], judged.expectations):
            probes.append({"activity": probe, "output": outcome.actual, "status": "succeeded",
                           "start": at, "end": at, "duration": 0.0, "tolerance_met": outcome.passed})
        journal["steady_states"]["after"] = {"steady_state_met": judged.passed, "probes": probes}
    return journal


def _chaoslib_version() -> str | None:
    """chaoslib's version when it is installed (their tools read the field); None without it."""
    try:
        from chaoslib import __version__
    except ImportError:
        return None
    return str(__version__)


def write(path: str | Path, journal: Mapping[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(journal, indent=2, default=str) + "\n", encoding="utf-8")
    return path

