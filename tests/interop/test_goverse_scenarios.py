"""baseline, stalled-client and node-kill-restart against Goverse and against pushchat: ``pushchat chaos compare``.

Each scenario's ``expect_on: goverse`` states what Goverse is expected to show (no loss without faults; a
stalled client's pushes held, not dropped; a restarted node that forgets its rooms' members, so acknowledged
messages reach nobody, with no line logged), so a change in Goverse's behaviour, or in the harness's view of
it, fails here; pushchat's runs are judged by the scenarios' own ``expect``. The six runs are one compare,
three worker processes at a time: a Goverse start waits mostly on its own timers (a 5 s shard-mapping check,
a 5 s sleep before its rooms are made), so runs side by side take about as long as one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from chaos.infra import goverse_build
from chaos.rundir import RunFolder
from tests.chaos.reports.browser import render

SOURCE = goverse_build.default_source()
pytestmark = [pytest.mark.skipif(SOURCE is None or not SOURCE.is_file(),
                                 reason="no Goverse source archive (shared/third_party/goverse/ beside the checkout)"),
              pytest.mark.chaos]
SCENARIOS = ("baseline", "stalled-client", "node-kill-restart")
SYSTEMS = ("pushchat", "goverse")
#: node-kill-restart's Goverse node serves again ~2 s after its heal at 3 s: 8 s leaves sends acknowledged by
#: the restarted node on a loaded machine too (the file's own 6 s leaves 1 s); the other faults fit in it.
DURATION = "8"
GOVERSE_ONLY = {"baseline": "own_pushes", "stalled-client": "latency_max", "node-kill-restart": "push_failures"}


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("compare") / "out"
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "chaos", "compare", *SCENARIOS, "--systems",
                           ",".join(SYSTEMS), "--jobs", "3", "--duration", DURATION, "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    return {"out": out, "done": done}


@pytest.mark.timeout(660)
def test_each_system_shows_what_its_expectations_say_in_one_table(compared: dict[str, Any]) -> None:
    out, done = compared["out"], compared["done"]
    runs = {(name, system): out / name / system / "seed-1" for name in SCENARIOS for system in SYSTEMS}
    logs = "\n".join(f.read_text() for f in (d / "run.log" for d in runs.values()) if f.is_file())
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}\n{logs[-6000:]}"
    for (name, system), folder in runs.items():
        judged = RunFolder(folder).read_judgement()
        assert judged is not None and judged.passed and judged.results.system == system, (name, system)
        said = {o.name for o in judged.expectations}
        assert (GOVERSE_ONLY[name] in said) == (system == "goverse"), (name, system, said)  # expect_on: goverse
    rows = {tuple(line.split()[:2]): line.split() for line in done.stdout.splitlines()
            if line.split()[:1] and line.split()[0] in SCENARIOS}
    assert rows[("node-kill-restart", "goverse")][2:4] == ["invalid", "6/6"]  # lost, as expected of it
    assert rows[("baseline", "goverse")][2] == "valid" and "n/a" in rows[("baseline", "goverse")]
    assert "n/a" not in rows[("baseline", "pushchat")]
    # what the table stands on: Goverse's own logs, two node incarnations, n/a with its reason
    kill = runs[("node-kill-restart", "goverse")]
    assert sorted(p.name for p in (kill / "logs").glob("node0.*.log")) == ["node0.1.log", "node0.2.log"]
    lines = [json.loads(line) for line in (kill / "logs" / "node0.1.log").read_text().splitlines()]
    assert any(line.get("event") == "goverse_log" for line in lines)
    results = RunFolder(kill).read_judgement().results  # type: ignore[union-attr]
    assert "read of a room" in (results.na_reason("lost_by_server") or "") and results.lost >= 1
    assert "Not applicable to goverse" in (kill / "report.html").read_text()
    _the_comparison_page_renders_its_table_linking_to_each_run(compared)


def _the_comparison_page_renders_its_table_linking_to_each_run(compared: dict[str, Any]) -> None:
    """In the same test as the table: the comparison (6 runs, a minute) is made once, not once per xdist worker
    that happens to take one of its tests."""
    page = compared["out"] / "compare.html"
    assert page.is_file(), compared["done"].stdout[-3000:]
    shown = render(page, lambda p: p.evaluate("""() => ({
        rows: [...document.querySelectorAll('table.compare tr')].slice(1).map(tr => tr.innerText),
        links: [...document.querySelectorAll('table.compare a')].map(a => a.getAttribute('href')),
        na: document.querySelectorAll('td.na').length,
        command: document.querySelector('code').innerText})"""))
    assert not shown.errors and not shown.requests, (shown.errors, shown.requests)
    assert len(shown.value["rows"]) == len(SCENARIOS) * len(SYSTEMS) and shown.value["na"] >= 1
    assert sorted(shown.value["links"]) == sorted(f"{n}/{s}/seed-1/report.html" for n in SCENARIOS for s in SYSTEMS)
    for link in shown.value["links"]:
        assert (compared["out"] / link).is_file()
    assert shown.value["command"].startswith("pushchat chaos compare baseline stalled-client node-kill-restart")
