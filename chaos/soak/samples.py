"""A soak's samples: one server's resources at one moment, and ``soak.jsonl``'s lines (pure, no I/O but the file).

What each sample holds and how it is read is said here once: :mod:`chaos.infra.resources` takes them,
:mod:`chaos.soak.trend` judges them and :mod:`chaos.reports.soak` draws them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

#: every resource a sample may hold, in the order tables and plots show them
RESOURCES = ("rss_bytes", "fds", "tasks", "sessions", "streams", "tracked", "gate_streams", "rooms", "store_bytes",
             "close_wait")


@dataclass
class Sample:
    """One server's resources at one moment (``t``: seconds since the workload began)."""

    t: float
    process: str
    incarnation: int
    pid: int
    sends_ok: int                  # acknowledged sends so far, run-wide (a store grows with them)
    values: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Sample":
        return cls(float(doc["t"]), str(doc["process"]), int(doc["incarnation"]), int(doc["pid"]),
                   int(doc.get("sends_ok", 0)), {k: float(v) for k, v in dict(doc.get("values", {})).items()})


def write(path: Path, samples: Iterable[Sample]) -> None:
    """Append ``samples`` to ``path`` (one JSON object a line), flushed: a soak cut short keeps what it took."""
    with open(path, "a", encoding="utf-8") as f:
        for s in samples:
            f.write(json.dumps(s.to_dict(), separators=(",", ":")) + "\n")


def read(path: Path) -> Iterator[Sample]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield Sample.from_dict(json.loads(line))
