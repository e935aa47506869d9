"""Scenario files: topology, workload, faults and expected outcomes, in YAML.

Loading validates everything a run would trip on later (unknown keys,
bad targets, faults outside the workload, impossible random schedules,
expectations naming no result) and reports it as ``FILE: FIELD.PATH:
problem``. The format is documented for users in scenarios/README.md.
"""

from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from chaos.checker import EXPECTABLE, Summary
from chaos.fault import (EXTENSION_KINDS, KINDS, Fault, FaultError, TopologyNames, check_params, conflicts, make_fault,
                         parse_target, schedule_random)

# An installed distribution ships scenarios/ as chaos/scenarios (see pyproject.toml);
# a source checkout, and an editable install of one, reads the top-level folder.
_SHIPPED = Path(__file__).resolve().parent / "scenarios"
DEFAULT_FOLDER = _SHIPPED if _SHIPPED.is_dir() else _SHIPPED.parent.parent / "scenarios"
RESERVED_PROCESSES = ("nemesis", "runner")  # history process names that are not clients
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_COMPARISON = re.compile(r"^\s*(==|!=|<=|>=|<|>)\s*(\S+)\s*$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_TEXT_RESULTS = frozenset(f.name for f in fields(Summary) if f.type in ("str", str))
VERDICTS = ("valid", "invalid", "unknown")


class ScenarioError(ValueError):
    """A bad scenario file; the message names the file and the field path."""

    def __init__(self, file: str | Path, field_: str, message: str) -> None:
        super().__init__(f"{file}: {field_}: {message}" if field_ else f"{file}: {message}")
        self.file, self.field, self.message = str(file), field_, message


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Topology:
    nodes: int = 1
    gates: int = 1
    clients: tuple[tuple[str, int], ...] = ()  # (name, gate index), in file order
    rooms: tuple[str, ...] = ("General",)
    gate_buffer: int = 1024      # node's buffer per gate (messages)
    client_buffer: int = 10      # gate's buffer per client (messages)
    history_limit: int = 10000   # messages a room keeps
    max_message_bytes: int = 4096

    @property
    def client_names(self) -> list[str]:
        return [name for name, _ in self.clients]

    def names(self) -> TopologyNames:
        return TopologyNames(self.nodes, self.gates, self.clients)


@dataclass(frozen=True)
class Workload:
    duration: float = 5.0    # seconds of sending
    rate: float = 10.0       # sends per second per sender
    senders: tuple[str, ...] = ()
    text_bytes: int = 32


@dataclass(frozen=True)
class RandomFaults:
    count: int
    kinds: tuple[str, ...]
    targets: tuple[str, ...]
    min_duration: float
    max_duration: float
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Expectation:
    """``name op value``; op ``in`` means "one of" the literals in ``value``."""

    name: str
    op: str
    value: Any

    @property
    def wanted(self) -> str:
        if self.op == "in":
            return " or ".join(map(str, self.value))
        return f"{self.op} {self.value:g}" if isinstance(self.value, (int, float)) and not isinstance(
            self.value, bool) else f"{self.op} {self.value}"

    def holds(self, actual: Any) -> bool:
        if self.op == "in":
            return actual in self.value
        if self.op not in ("==", "!=") and not isinstance(actual, (int, float)):
            return False
        try:
            return bool(_OPS[self.op](actual, self.value))
        except TypeError:
            return False


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str
    wanted: str
    actual: Any
    passed: bool


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    topology: Topology
    workload: Workload
    recovery_wait: float
    faults: tuple[Fault, ...]
    random_faults: RandomFaults | None
    expect: tuple[Expectation, ...]
    path: Path

    @property
    def extension_kinds(self) -> list[str]:
        """Fault kinds used here that need pushchat's embedded Toxiproxy server."""
        kinds = [f.kind for f in self.faults] + list(self.random_faults.kinds if self.random_faults else ())
        return sorted({k for k in kinds if k in EXTENSION_KINDS})

    def schedule(self, seed: int | None = None) -> list[Fault]:
        """The run's faults: the listed ones plus the seeded random ones, by start time."""
        faults = list(self.faults)
        r = self.random_faults
        if r is not None:
            faults += schedule_random(
                self.seed if seed is None else seed, r.count, r.kinds, r.targets, self.workload.duration,
                r.min_duration, r.max_duration, self.topology.names(), params=r.params,
                existing=self.faults, first_id=len(self.faults))
        return sorted(faults, key=lambda f: (f.start, f.id))


def evaluate(expect: Sequence[Expectation], results: Any) -> list[ExpectationOutcome]:
    """Test each expectation against a ``Results`` or its dict (results.json)."""
    out = []
    for e in expect:
        actual = results.get(e.name) if isinstance(results, Mapping) else getattr(results, e.name, None)
        out.append(ExpectationOutcome(e.name, e.wanted, actual, e.holds(actual)))
    return out


# ---------------------------------------------------------------- reading


class _Bad(ValueError):
    """A value problem; ``sub`` extends the field path (``[2]``, ``.x``)."""

    def __init__(self, message: str, sub: str = "") -> None:
        super().__init__(message)
        self.message, self.sub = message, sub


_REQUIRED = object()


class _Section:
    """One mapping of the file: typed access with errors that name the field."""

    def __init__(self, file: str, path: str, data: Any, known: Sequence[str]) -> None:
        self.file, self.path = file, path
        if not isinstance(data, Mapping):
            raise ScenarioError(file, path, f"must be a mapping, not {_kind(data)}")
        self.data = data
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
                raise ScenarioError(file, self.at(key), f"unknown key ({hint})")

    def at(self, key: Any) -> str:
        return f"{self.path}.{key}" if self.path else str(key)

    def get(self, key: str, check: Callable[[Any], Any], default: Any = _REQUIRED) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is _REQUIRED:
                raise ScenarioError(self.file, self.at(key), "is required")
            return default
        try:
            return check(self.data[key])
        except _Bad as bad:
            raise ScenarioError(self.file, self.at(key) + bad.sub, bad.message) from None

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(self.file, self.at(key), message)


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__} ({value!r})"


def _number(minimum: float = 0.0, positive: bool = False, integer: bool = False) -> Callable[[Any], Any]:
    what = ("a positive " if positive else "a ") + ("whole number" if integer else "number")

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and value != int(value)):
            raise _Bad(f"must be {what}, not {_kind(value)}")
        if (positive and value <= 0) or value < minimum:
            raise _Bad(f"must be {what}" + ("" if positive else f" >= {minimum:g}") + f", not {value!r}")
        return int(value) if integer else float(value)
    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"must be a non-empty string, not {_kind(value)}")
    return value.strip()


def _one_line(value: Any) -> str:
    text = _text(value)
    if "\n" in text:
        raise _Bad("must be one line")
    return text


def _list_of(check: Callable[[Any], Any], unique: bool = True) -> Callable[[Any], tuple[Any, ...]]:
    def check_list(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list) or not value:
            raise _Bad(f"must be a non-empty list, not {_kind(value)}")
        out = []
        for i, item in enumerate(value):
            try:
                item = check(item)
            except _Bad as bad:
                raise _Bad(bad.message, f"[{i}]{bad.sub}") from None
            if unique and item in out:
                raise _Bad(f"{item!r} is listed twice", f"[{i}]")
            out.append(item)
        return tuple(out)
    return check_list


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise _Bad(f"must be a name (a letter, then letters, digits, _ or -), not {_kind(value)}")
    if value in RESERVED_PROCESSES:
        raise _Bad(f"{value!r} is reserved for the history's {value} process")
    return value


def load(path: str | Path) -> Scenario:
    """Read and validate one scenario file."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(file, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(file, "", f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        raise ScenarioError(file, "", "is empty")
    top = _Section(file, "", data, ("name", "description", "seed", "topology", "workload", "recovery_wait",
                                    "faults", "random_faults", "expect"))
    name = top.get("name", _name)
    if name != path.stem:
        raise top.error("name", f"must equal the file's name without .yaml ({path.stem!r}), not {name!r}")
    topology = _topology(_Section(file, "topology", top.get("topology", lambda v: v), (
        "nodes", "gates", "clients", "rooms", "gate_buffer", "client_buffer", "history_limit",
        "max_message_bytes")))
    workload = _workload(_Section(file, "workload", top.get("workload", lambda v: v, {}),
                                  ("duration", "rate", "senders", "text_bytes")), topology)
    seed = top.get("seed", _number(integer=True), 0)
    faults = _faults(file, top.get("faults", lambda v: v, []), topology, workload)
    random_faults = _random_faults(file, top.get("random_faults", lambda v: v, None), topology, workload, seed,
                                   faults)
    return Scenario(
        name=name, description=top.get("description", _one_line, ""), seed=seed, topology=topology,
        workload=workload, recovery_wait=top.get("recovery_wait", _number(), 3.0), faults=faults,
        random_faults=random_faults, expect=_expect(file, top.get("expect", lambda v: v, {})), path=path)


def _topology(sec: _Section) -> Topology:
    nodes = sec.get("nodes", _number(minimum=1, integer=True), 1)
    gates = sec.get("gates", _number(minimum=1, integer=True), 1)

    def clients(value: Any) -> tuple[tuple[str, int], ...]:
        if isinstance(value, list):
            names = _list_of(_name)(value)
            return tuple((n, i % gates) for i, n in enumerate(names))
        if not isinstance(value, Mapping) or not value:
            raise _Bad(f"must map client names to gate indexes, or list names; not {_kind(value)}")
        out = []
        for n, gate in value.items():
            try:
                _name(n)
                gate = _number(integer=True)(gate)
            except _Bad as bad:
                raise _Bad(bad.message, f".{n}") from None
            if gate >= gates:
                raise _Bad(f"gate {gate} does not exist (gates are numbered 0..{gates - 1})", f".{n}")
            out.append((n, gate))
        return tuple(out)

    limits = {key: sec.get(key, _number(minimum=1, integer=True), getattr(Topology, key))
              for key in ("gate_buffer", "client_buffer", "history_limit", "max_message_bytes")}
    return Topology(nodes=nodes, gates=gates, clients=sec.get("clients", clients),
                    rooms=sec.get("rooms", _list_of(_text), Topology.rooms), **limits)


def _workload(sec: _Section, topology: Topology) -> Workload:
    def senders(value: Any) -> tuple[str, ...]:
        names = _list_of(_text)(value)
        for i, n in enumerate(names):
            if n not in topology.client_names:
                raise _Bad(f"{n!r} is not a client of the topology ({', '.join(topology.client_names)})", f"[{i}]")
        return names

    text_bytes = sec.get("text_bytes", _number(minimum=1, integer=True), Workload.text_bytes)
    if text_bytes > topology.max_message_bytes:
        raise sec.error("text_bytes", f"must not exceed topology.max_message_bytes ({topology.max_message_bytes})")
    return Workload(duration=sec.get("duration", _number(positive=True), Workload.duration),
                    rate=sec.get("rate", _number(positive=True), Workload.rate),
                    senders=sec.get("senders", senders, tuple(topology.client_names)), text_bytes=text_bytes)


def _faults(file: str, value: Any, topology: Topology, workload: Workload) -> tuple[Fault, ...]:
    if not isinstance(value, list):
        raise ScenarioError(file, "faults", f"must be a list, not {_kind(value)}")
    names = topology.names()
    out = []
    for i, item in enumerate(value):
        where = f"faults[{i}]"
        if not isinstance(item, Mapping):
            raise ScenarioError(file, where, f"must be a mapping, not {_kind(item)}")
        for key in ("kind", "target", "start", "duration"):
            if key not in item:
                raise ScenarioError(file, f"{where}.{key}", "is required")
        params = {k: v for k, v in item.items() if k not in ("kind", "target", "start", "duration")}
        try:
            fault = make_fault(item["kind"], item["target"], item["start"], item["duration"], params, id=i)
            fault.names(names)
        except FaultError as exc:
            raise ScenarioError(file, f"{where}.{exc.field}", exc.message) from None
        if fault.end > workload.duration:
            raise ScenarioError(file, f"{where}.duration", f"the fault ends at {fault.end:g} s, after the "
                                f"workload ({workload.duration:g} s); faults heal before the recovery wait")
        out.append(fault)
    clash = conflicts(out, names)
    if clash:
        a, b, name = clash
        raise ScenarioError(file, f"faults[{b.id}]", f"overlaps faults[{a.id}] on {name}; a heal would undo "
                            "the other (give them different times or targets)")
    return tuple(out)


def _random_faults(file: str, value: Any, topology: Topology, workload: Workload, seed: int,
                   faults: tuple[Fault, ...]) -> RandomFaults | None:
    if value is None:
        return None
    sec = _Section(file, "random_faults", value, ("count", "kinds", "targets", "min_duration", "max_duration",
                                                  "params"))

    def kind(v: Any) -> str:
        if v not in KINDS:
            raise _Bad(f"unknown fault kind {v!r} (known: {', '.join(KINDS)})")
        return v

    def target(v: Any) -> str:
        try:
            return str(parse_target(v))
        except FaultError as exc:
            raise _Bad(exc.message) from None

    def params(v: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(v, Mapping):
            raise _Bad(f"must map fault kinds to their parameters, not {_kind(v)}")
        out = {}
        for k, p in v.items():
            if not isinstance(p, Mapping):
                raise _Bad(f"must be a mapping of parameters, not {_kind(p)}", f".{k}")
            try:
                out[kind(k)] = check_params(k, p)
            except FaultError as exc:
                raise _Bad(exc.message, f".{k}.{exc.field}") from None
            except _Bad as bad:
                raise _Bad(bad.message, f".{k}") from None
        return out

    spec = RandomFaults(
        count=sec.get("count", _number(minimum=1, integer=True)), kinds=sec.get("kinds", _list_of(kind)),
        targets=sec.get("targets", _list_of(target)), min_duration=sec.get("min_duration", _number(positive=True)),
        max_duration=sec.get("max_duration", _number(positive=True)), params=sec.get("params", params, {}))
    try:  # the file's own seed must give a schedule; other seeds are checked when run
        schedule_random(seed, spec.count, spec.kinds, spec.targets, workload.duration, spec.min_duration,
                        spec.max_duration, topology.names(), params=spec.params, existing=faults,
                        first_id=len(faults))
    except FaultError as exc:
        raise sec.error(exc.field, exc.message) from None
    return spec


def _expect(file: str, value: Any) -> tuple[Expectation, ...]:
    sec = _Section(file, "expect", value, EXPECTABLE)
    out = [sec.get(name, lambda v, name=name: _expectation(name, v)) for name in sec.data]
    if "verdict" not in sec.data:  # a scenario that forgets it still must not pass on an invalid run
        out.insert(0, Expectation("verdict", "==", "valid"))
    return tuple(out)


def _expectation(name: str, value: Any) -> Expectation:
    textual = name in _TEXT_RESULTS

    def literal(v: Any) -> Any:
        if textual:
            if not isinstance(v, str):
                raise _Bad(f"must be a word, not {_kind(v)}")
            if name == "verdict" and v not in VERDICTS:
                raise _Bad(f"must be one of {', '.join(VERDICTS)}, not {v!r}")
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Bad(f"must be a number or a comparison such as '> 0', not {_kind(v)}")
        return v

    if isinstance(value, list):
        return Expectation(name, "in", _list_of(literal)(value))
    if isinstance(value, str) and not textual and value.strip()[:1] in tuple("<>=!"):
        m = _COMPARISON.match(value)
        try:
            number = float(m[2]) if m else None
        except ValueError:
            number = None
        if m is None or number is None:
            raise _Bad(f"cannot read {value!r}; write '<op> <number>' with op one of {', '.join(_OPS)}")
        return Expectation(name, m[1], int(number) if number.is_integer() else number)
    return Expectation(name, "==", literal(value))


def load_all(folder: str | Path = DEFAULT_FOLDER) -> list[Scenario]:
    """Every scenario in ``folder``, sorted by name; one error lists every bad file."""
    scenarios, errors = [], []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            scenarios.append(load(path))
        except ScenarioError as exc:
            errors.append(str(exc))
    if errors:
        raise ScenarioError(folder, "", "bad scenario files:\n  " + "\n  ".join(errors))
    return sorted(scenarios, key=lambda s: s.name)


def find(name_or_path: str | Path, folder: str | Path = DEFAULT_FOLDER) -> Scenario:
    """A scenario by name (``stalled-client``) from ``folder``, or by file path."""
    given = Path(name_or_path)
    if given.suffix in (".yaml", ".yml") or given.is_file() or len(given.parts) > 1:
        return load(given)
    candidate = Path(folder) / f"{given}.yaml"
    if candidate.is_file():
        return load(candidate)
    known = sorted(p.stem for p in Path(folder).glob("*.yaml"))
    close = difflib.get_close_matches(str(given), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ScenarioError(folder, "", f"no scenario {str(given)!r}; {hint}known: {', '.join(known) or 'none'}")
