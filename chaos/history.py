"""The run's history: one JSON line per operation, as Jepsen records it.

The workload and the fault injector write it while the run goes on; the
checker reads it afterwards. Each line is flushed as it is written so that
a crash of the runner loses nothing but the line being written, and
:func:`read` forgives exactly that: a truncated last line.
See docs/architecture.md ("History") for the record kinds.
"""

from __future__ import annotations

import gc
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping

import orjson

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: tuple[str, ...] = ("invoke", "ok", "fail", "info")


def names_digest(names: Iterable[str]) -> str:
    """A short, order-free fingerprint of a set of names: a big room's member list recorded once per list,
    not once per member (``final_presence`` with ``digest``), and compared by the checker."""
    return hashlib.sha256("\n".join(sorted(set(names))).encode()).hexdigest()[:32]


class HistoryError(ValueError):
    """A history file that cannot be read: names the file and line."""


@dataclass(frozen=True)
class Op:
    """One history record."""

    index: int
    time: float
    process: str
    type: str
    f: str
    value: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "time": self.time, "process": self.process,
                "type": self.type, "f": self.f, "value": dict(self.value)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Op":
        value = doc.get("value")
        return cls(index=int(doc["index"]), time=float(doc["time"]), process=str(doc["process"]),
                   type=str(doc["type"]), f=str(doc["f"]),
                   value=value if isinstance(value, Mapping) else {})


class History:
    """Append-only JSONL writer, safe from asyncio code and from other threads.

    ``time`` is seconds since the writer was made, on a monotonic clock;
    ``start`` is that clock's reading at creation, so other parts (the
    fault schedule) can share the same origin.
    """

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.monotonic, *,
                 line_flush: bool = True) -> None:
        """``line_flush=False``: flushed by :meth:`flush` and at close only (a load worker writes thousands of
        records a second; a line per write call was a third of its time)."""
        self.path = Path(path)
        self._line_flush = line_flush
        self._clock = clock
        self._lock = threading.Lock()
        self._file = open(self.path, "w", encoding="utf-8")
        self._index = 0
        self.start = clock()

    def now(self) -> float:
        """Seconds since the history started."""
        return self._clock() - self.start

    def append(self, process: str, type: OpType, f: str, value: Mapping[str, Any] | None = None) -> Op:
        if type not in OP_TYPES:
            raise ValueError(f"history type must be one of {OP_TYPES}, not {type!r}")
        with self._lock:
            if self._file.closed:
                raise ValueError(f"history {self.path} is closed")
            op = Op(self._index, round(self.now(), 6), process, type, f, dict(value or {}))
            self._file.write(json.dumps(op.to_dict(), separators=(",", ":"), default=str) + "\n")
            if self._line_flush:
                self._file.flush()
            self._index += 1
        return op

    def invoke(self, process: str, f: str, value: Mapping[str, Any] | None = None) -> Op:
        return self.append(process, "invoke", f, value)

    def ok(self, process: str, f: str, value: Mapping[str, Any] | None = None) -> Op:
        return self.append(process, "ok", f, value)

    def fail(self, process: str, f: str, value: Mapping[str, Any] | None = None) -> Op:
        return self.append(process, "fail", f, value)

    def info(self, process: str, f: str, value: Mapping[str, Any] | None = None) -> Op:
        return self.append(process, "info", f, value)

    def flush(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read(path: str | Path) -> list[Op]:
    """Load a history; a truncated last line (the writer died mid-line) is dropped.

    Any other line that is not a record is an error naming the file and line.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    ops: list[Op] = []
    collecting = gc.isenabled()
    gc.disable()  # a million records, none in a cycle: full collections would walk them all again and again
    try:
        _parse(path, lines, ops)
    finally:
        if collecting:
            gc.enable()
    return ops


#: One record as :func:`records` yields it: (index, time, process, type, f, value).
Record = tuple[int, float, str, str, str, Mapping[str, Any]]


def records(path: str | Path) -> Iterator[Record]:
    """Stream a history's records in file (= index) order without holding the file or the records.

    What :func:`read` forgives and refuses, alike; no :class:`Op` is built (a third of reading's time),
    so a checker can keep of each record only what it judges by. A long record whose value is byte for
    byte the one before (every member's final poll of a room lists the same messages) yields that same
    value again, parsed once."""
    path = Path(path)
    loads = orjson.loads
    last_value, last_tail = None, b""
    with open(path, "rb") as file:
        number = 0
        for line in file:
            number += 1
            try:
                doc = None
                if len(line) > _LONG:
                    at = line.find(b',"value":')  # the first is the record's own: its other fields are plain
                    if at > 0 and line[at:] == last_tail:
                        try:
                            doc = loads(line[:at] + b"}")
                            doc["value"] = last_value
                        except ValueError:
                            doc = None
                if doc is None:
                    try:
                        doc = loads(line)
                    except ValueError:  # not UTF-8, say: read as read() reads it
                        doc = json.loads(line.decode("utf-8", errors="replace"))
                    if len(line) > _LONG and (at := line.find(b',"value":')) > 0:
                        last_value, last_tail = doc.get("value"), line[at:]
                value = doc.get("value")
                yield (int(doc["index"]), float(doc["time"]), str(doc["process"]), str(doc["type"]), str(doc["f"]),
                       value if type(value) is dict else {})
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                if not line.strip():
                    continue
                if not line.endswith(b"\n"):  # no newline after it: the writer was cut off
                    break
                raise HistoryError(f"{path}:{number}: not a history record ({exc})") from None


_LONG = 4096  # bytes: a record this long may repeat the value of the one before


def _parse(path: Path, lines: list[str], ops: list[Op]) -> None:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            ops.append(Op.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if number == len(lines):  # no newline after it: the writer was cut off
                break
            raise HistoryError(f"{path}:{number}: not a history record ({exc})") from None
