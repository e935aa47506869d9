"""A run's folder: the one owner of its file names, its readers and writers, and its log-file pattern.

A run writes everything the checker reads into one folder first, so it
can be judged again later (``pushchat chaos check``), reported, turned into
a Chaos Toolkit journal or added to a campaign. Every module that reads or
writes one of these files goes through here, so their names and formats
are said once. The formats are unchanged from the runs already on disk:
``results.json`` is read back with :meth:`Judgement.from_dict` (its results with
:meth:`chaos.checker.Results.from_dict`, the one reader of them), which fills
what an older run did not write with its default.

Light on purpose (no gRPC, no topology): the report and the CLI's
``check`` read folders without starting anything.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from chaos.checker.model import Results, from_plain
from chaos.naming import SERVER_PROCESS

if TYPE_CHECKING:  # chaos.scenario.model loads the fault kinds; reading a folder should not need them
    from chaos.scenario.model import ExpectationOutcome

HISTORY = "history.jsonl"
RESULTS = "results.json"
METRICS = "metrics.json"
SCHEDULE = "schedule.json"
LOGS = "logs"
SECURITY = "security"
REPORT = "report.html"
LATENCY_PLOT = "latency.png"
RUN_LOG = "run.log"              # a campaign cell's report, as `pushchat chaos run` prints it
TOXIPROXY_LOG = "toxiproxy.log"
DATA = "data"                    # the nodes' sqlite stores, one folder per node
CLOCK = "clock"                  # libfaketime's offset files (clock faults)
STORE_LOGS = "store"             # PostgreSQL's own log, beside (not among) the JSON logs the checker reads
ETCD_LOGS = "etcd"
SOAK_SAMPLES = "soak.jsonl"      # `chaos soak`: each server's resources, one line per process per sample
SOAK_JUDGEMENT = "soak.json"     # ... the trend per process and resource, and what it came to
SOAK_PLOT = "soak.png"           # ... each resource over time

#: logs/node0.2.log: node0's second incarnation; client logs (client-bob.log) do not match.
SERVER_LOG = re.compile(rf"^(?P<name>{SERVER_PROCESS})\.(?P<incarnation>\d+)\.log$")


def log_file_name(name: str, incarnation: int) -> str:
    """The log file of one server process's incarnation: ``node0.1.log``, ``node0.2.log``…"""
    return f"{name}.{incarnation}.log"


def client_log_name(name: str) -> str:
    """A client's library log (stream losses, reconnect waits): beside, not among, the servers' logs."""
    return f"client-{name}.log"


def incarnation_key(name: str, incarnation: int) -> str:
    """The checker's name for one incarnation's log and metrics: ``node0``, then ``node0#2``…"""
    return name if incarnation <= 1 else f"{name}#{incarnation}"


def log_file_key(path: Path) -> str:
    """``logs/node0.2.log`` → ``node0#2``: the key of the incarnation that wrote it."""
    name, incarnation, _ = path.name.rsplit(".", 2)
    return incarnation_key(name, int(incarnation))


# ---- results.json ---------------------------------------------------------------------------------------------

@dataclass
class Judgement:
    """What results.json holds: a run judged against its scenario's expectations."""

    scenario: str
    results: Results
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    passed: bool = False
    description: str = ""
    run_seconds: float | None = None   # the run itself, without judging it

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "description": self.description, "passed": self.passed,
                "run_seconds": self.run_seconds, "expectations": [dataclasses.asdict(o) for o in self.expectations],
                "results": self.results.to_dict()}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Judgement":
        from chaos.scenario.model import ExpectationOutcome

        results = doc.get("results")
        if not isinstance(results, Mapping):
            raise ValueError("results.json holds no results")
        return cls(scenario=str(doc.get("scenario") or ""), results=Results.from_dict(results),
                   expectations=[from_plain(ExpectationOutcome, o) for o in doc.get("expectations") or []],
                   passed=bool(doc.get("passed")), description=str(doc.get("description") or ""),
                   run_seconds=doc.get("run_seconds"))


# ---- the folder -----------------------------------------------------------------------------------------------

class RunFolder:
    """The files of one run folder, by name, and their readers and writers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def make(self) -> "RunFolder":
        (self.path / LOGS).mkdir(parents=True, exist_ok=True)
        return self

    @property
    def history(self) -> Path:
        return self.path / HISTORY

    @property
    def results(self) -> Path:
        return self.path / RESULTS

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def schedule(self) -> Path:
        return self.path / SCHEDULE

    @property
    def logs(self) -> Path:
        return self.path / LOGS

    @property
    def security(self) -> Path:
        return self.path / SECURITY

    @property
    def report(self) -> Path:
        return self.path / REPORT

    @property
    def latency_plot(self) -> Path:
        return self.path / LATENCY_PLOT

    @property
    def run_log(self) -> Path:
        return self.path / RUN_LOG

    @property
    def toxiproxy_log(self) -> Path:
        return self.path / TOXIPROXY_LOG

    @property
    def data(self) -> Path:
        return self.path / DATA

    @property
    def clock(self) -> Path:
        return self.path / CLOCK

    @property
    def store_logs(self) -> Path:
        return self.path / STORE_LOGS

    @property
    def etcd_logs(self) -> Path:
        return self.path / ETCD_LOGS

    @property
    def soak_samples(self) -> Path:
        return self.path / SOAK_SAMPLES

    @property
    def soak_judgement(self) -> Path:
        return self.path / SOAK_JUDGEMENT

    @property
    def soak_plot(self) -> Path:
        return self.path / SOAK_PLOT

    def load_history(self, worker: int) -> Path:
        """A load worker's clients' history, merged into history.jsonl when the run ends."""
        return self.path / f"history-load{worker}.jsonl"

    def load_worker_err(self, worker: int) -> Path:
        return self.logs / f"load-worker{worker}.err"

    def scenario_copy(self, name: str) -> Path:
        """The scenario file as run, so a later check judges against these expectations."""
        return self.path / f"{name}.yaml"

    def scenario_copies(self) -> list[Path]:
        return sorted(self.path.glob("*.yaml"))

    def server_log(self, name: str, incarnation: int) -> Path:
        return self.logs / log_file_name(name, incarnation)

    def server_logs(self) -> Iterator[tuple[str, int, Path]]:
        """Each node's and gate's log: (name, incarnation, path), in file-name order."""
        for path in sorted(self.logs.glob("*.log")):
            if m := SERVER_LOG.match(path.name):
                yield m["name"], int(m["incarnation"]), path

    def read_server_logs(self) -> dict[str, list[dict[str, Any]]]:
        """The node and gate logs' lines by incarnation (``node0#2``), as the checker takes them; client logs
        are not theirs."""
        from system import log

        return {incarnation_key(name, n): log.read(str(path)) for name, n, path in self.server_logs()}

    # -- the files' contents ---------------------------------------------------------------------------------
    def write_scenario_copy(self, name: str, source: Path) -> None:
        self.scenario_copy(name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")

    def write_schedule(self, faults: Sequence[Any]) -> None:
        """The faults the run was to apply, each as ``Fault.to_dict`` gives it."""
        self.schedule.write_text(json.dumps([f.to_dict() for f in faults], indent=2) + "\n")

    def read_schedule(self) -> list[dict[str, Any]]:
        return json.loads(self.schedule.read_text()) if self.schedule.is_file() else []

    def write_metrics(self, metrics: Mapping[str, Any]) -> None:
        self.metrics.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")

    def read_metrics(self) -> dict[str, Any]:
        return json.loads(self.metrics.read_text()) if self.metrics.exists() else {}

    def write_judgement(self, judgement: Judgement) -> None:
        self.results.write_text(json.dumps(judgement.to_dict(), indent=2, default=str) + "\n")

    def read_judgement(self) -> Judgement | None:
        """results.json, or None: a run that broke off before judging has none (or a damaged one)."""
        try:
            doc = json.loads(self.results.read_text())
            return Judgement.from_dict(doc) if isinstance(doc, dict) else None
        except (OSError, ValueError, TypeError, KeyError):
            return None
