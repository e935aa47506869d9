"""Scenario files: topology, workload, faults and expected outcomes, in YAML.

Loading validates everything a run would trip on later (unknown keys,
bad targets, faults outside the workload, impossible random schedules,
expectations naming no result) and reports every problem of a file at
once, one ``FILE: FIELD.PATH: problem`` line each, so one edit fixes
them all. The format is documented for users in scenarios/README.md.
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
from chaos.fault import Fault, make_fault
from chaos.kinds import EXTENSION_KINDS, KINDS, FaultError, check_params, unknown_kind
from chaos.naming import PartNames
from chaos.schedule import conflicts, schedule_random
from chaos.target import parse_target

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


Problem = tuple[str, str, str]  # (file, field path, message)


def _line(file: str, field_: str, message: str) -> str:
    return f"{file}: {field_}: {message}" if field_ else f"{file}: {message}"


class ScenarioError(ValueError):
    """Bad scenario files: one line per problem, each naming the file and the field path."""

    def __init__(self, file: str | Path, field_: str, message: str, problems: Sequence[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems) or [(str(file), field_, message)]
        super().__init__("\n".join(_line(*p) for p in self.problems))
        self.file, self.field, self.message = self.problems[0]

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> "ScenarioError":
        return cls(*problems[0], problems=problems)


class UnknownScenario(ScenarioError):
    """No scenario by that name or path: a mistake on the command line rather than in a file."""


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
    store: str = "sqlite"        # where nodes keep rooms: sqlite (durable, a file per node), postgres (durable,
                                 # one server the nodes share, each node through its own link), memory

    @property
    def client_names(self) -> list[str]:
        return [name for name, _ in self.clients]

    def names(self) -> PartNames:
        return PartNames(self.nodes, self.gates, self.clients, store=self.store == "postgres")


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

TOP_KEYS = ("name", "description", "seed", "topology", "workload", "recovery_wait", "faults", "random_faults",
            "expect")
TOPOLOGY_KEYS = ("nodes", "gates", "clients", "rooms", "gate_buffer", "client_buffer", "history_limit",
                 "max_message_bytes", "store")
STORES = ("sqlite", "memory", "postgres")  # the nodes' store in a run (see Topology.store)
WORKLOAD_KEYS = ("duration", "rate", "senders", "text_bytes")
FAULT_KEYS = ("kind", "target", "start", "duration")
RANDOM_KEYS = ("count", "kinds", "targets", "min_duration", "max_duration", "params")


class _Bad(ValueError):
    """Value problems; each ``sub`` extends the field path (``[2]``, ``.x``)."""

    def __init__(self, message: str = "", sub: str = "", items: Sequence[tuple[str, str]] | None = None) -> None:
        self.items = list(items) if items is not None else [(sub, message)]
        super().__init__("; ".join(m for _, m in self.items))

    def under(self, prefix: str) -> list[tuple[str, str]]:
        return [(prefix + sub, message) for sub, message in self.items]


class _Problems:
    """Every problem of one file, so that one run of the loader shows them all."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[Problem] = []

    def add(self, field_: str, message: str) -> None:
        self.found.append((self.file, field_, message))

    def __len__(self) -> int:
        return len(self.found)

    def raise_any(self) -> None:
        if self.found:
            raise ScenarioError.of(self.found)


def _unknown_key(problems: _Problems, where: str, key: Any, known: Sequence[str],
                 what: str = "unknown key") -> str | None:
    """Note an unknown key, with the known key it most looks like; return that key (a likely typo)."""
    close = difflib.get_close_matches(str(key), known, n=1)
    problems.add(where, f"{what} (did you mean {close[0]!r}?)" if close else f"{what} (known: {', '.join(known)})")
    return close[0] if close else None


_REQUIRED = object()


class _Section:
    """One mapping of the file: typed access; each problem is noted with its field path."""

    def __init__(self, problems: _Problems, path: str, data: Any, known: Sequence[str]) -> None:
        self.problems, self.path = problems, path
        self.data: Mapping[Any, Any] = {}
        self.typos: set[str] = set()  # known keys that an unknown key looks like
        self.count = 0
        self.is_mapping = isinstance(data, Mapping)
        if not self.is_mapping:
            self.add("", f"must be a mapping, not {_kind(data)}")
            return
        self.data = data
        for key in data:
            if key not in known:
                self.count += 1
                self.typos.add(_unknown_key(problems, self.at(key), key, known) or "")

    @property
    def failed(self) -> bool:
        return self.count > 0

    def at(self, key: Any) -> str:
        return f"{self.path}.{key}" if self.path and key != "" else self.path or str(key)

    def add(self, key: str, message: str) -> None:
        self.count += 1
        self.problems.add(self.at(key), message)

    def get(self, key: str, check: Callable[[Any], Any], default: Any = _REQUIRED) -> Any:
        """The checked value; on a problem, note it and return ``default`` (None when required)."""
        if key not in self.data or self.data[key] is None:
            if default is not _REQUIRED:
                return default
            if key in self.typos or not self.is_mapping:  # reported already: the misspelt key, or the section
                self.count += 1
            else:
                self.add(key, "is required")
            return None
        try:
            return check(self.data[key])
        except _Bad as bad:
            for sub, message in bad.under(""):
                self.add(f"{key}{sub}", message)
            return None if default is _REQUIRED else default


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


def _one_of(choices: Sequence[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _Bad(f"must be one of {', '.join(choices)}, not {_kind(value)}{hint}")
        return value
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
        out: list[Any] = []
        bad: list[tuple[str, str]] = []
        for i, item in enumerate(value):
            try:
                item = check(item)
            except _Bad as b:
                bad += b.under(f"[{i}]")
                continue
            if unique and item in out:
                bad.append((f"[{i}]", f"{item!r} is listed twice"))
                continue
            out.append(item)
        if bad:
            raise _Bad(items=bad)
        return tuple(out)
    return check_list


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise _Bad(f"must be a name (a letter, then letters, digits, _ or -), not {_kind(value)}")
    if value in RESERVED_PROCESSES:
        raise _Bad(f"{value!r} is reserved for the history's {value} process")
    return value


def _as_is(value: Any) -> Any:
    return value


def load(path: str | Path) -> Scenario:
    """Read and validate one scenario file; a ScenarioError lists every problem found."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnknownScenario(file, "", "no such scenario file") from None
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
    if not isinstance(data, Mapping):
        raise ScenarioError(file, "", f"must be a mapping, not {_kind(data)}")
    problems = _Problems(file)
    top = _Section(problems, "", data, TOP_KEYS)
    name = top.get("name", _name)
    if name is not None and name != path.stem:
        top.add("name", f"must equal the file's name without .yaml ({path.stem!r}), not {name!r}")
    raw_topology = top.get("topology", _as_is)
    topology = None if raw_topology is None else _topology(_Section(problems, "topology", raw_topology,
                                                                    TOPOLOGY_KEYS))
    workload = _workload(_Section(problems, "workload", top.get("workload", _as_is, {}), WORKLOAD_KEYS), topology)
    seed = top.get("seed", _number(integer=True), 0)
    description = top.get("description", _one_line, "")
    recovery_wait = top.get("recovery_wait", _number(), 3.0)
    faults = _faults(problems, top.get("faults", _as_is, []), topology, workload)
    random_faults = _random_faults(problems, top.get("random_faults", _as_is, None), topology, workload, seed,
                                   faults)
    expect = _expect(problems, top.get("expect", _as_is, {}))
    problems.raise_any()
    assert topology is not None and workload is not None and faults is not None
    return Scenario(name=name, description=description, seed=seed, topology=topology, workload=workload,
                    recovery_wait=recovery_wait, faults=faults, random_faults=random_faults, expect=expect, path=path)


def _topology(sec: _Section) -> Topology | None:
    """The topology, or None when it has problems (then nothing that depends on it is checked)."""
    nodes = sec.get("nodes", _number(minimum=1, integer=True), 1)
    before = sec.count
    gates = sec.get("gates", _number(minimum=1, integer=True), 1)
    gates_known = sec.count == before

    def clients(value: Any) -> tuple[tuple[str, int], ...]:
        if isinstance(value, list):
            names = _list_of(_name)(value)
            return tuple((n, i % gates) for i, n in enumerate(names))
        if not isinstance(value, Mapping) or not value:
            raise _Bad(f"must map client names to gate indexes, or list names; not {_kind(value)}")
        out, bad = [], []
        for n, gate in value.items():
            try:
                _name(n)
                gate = _number(integer=True)(gate)
            except _Bad as b:
                bad += b.under(f".{n}")
                continue
            if gates_known and gate >= gates:
                bad.append((f".{n}", f"gate {gate} does not exist (gates are numbered 0..{gates - 1})"))
                continue
            out.append((n, gate))
        if bad:
            raise _Bad(items=bad)
        return tuple(out)

    limits = {key: sec.get(key, _number(minimum=1, integer=True), getattr(Topology, key))
              for key in ("gate_buffer", "client_buffer", "history_limit", "max_message_bytes")}
    members = sec.get("clients", clients)
    rooms = sec.get("rooms", _list_of(_text), Topology.rooms)
    store = sec.get("store", _one_of(STORES), Topology.store)
    if sec.failed:
        return None
    return Topology(nodes=nodes, gates=gates, clients=members, rooms=rooms, store=store, **limits)


def _workload(sec: _Section, topology: Topology | None) -> Workload | None:
    def senders(value: Any) -> tuple[str, ...]:
        names = _list_of(_text)(value)
        if topology is not None:
            bad = [(f"[{i}]", f"{n!r} is not a client of the topology ({', '.join(topology.client_names)})")
                   for i, n in enumerate(names) if n not in topology.client_names]
            if bad:
                raise _Bad(items=bad)
        return names

    text_bytes = sec.get("text_bytes", _number(minimum=1, integer=True), Workload.text_bytes)
    if topology is not None and text_bytes > topology.max_message_bytes:
        sec.add("text_bytes", f"must not exceed topology.max_message_bytes ({topology.max_message_bytes})")
    workload = Workload(duration=sec.get("duration", _number(positive=True), Workload.duration),
                        rate=sec.get("rate", _number(positive=True), Workload.rate),
                        senders=sec.get("senders", senders, tuple(topology.client_names) if topology else ()),
                        text_bytes=text_bytes)
    return None if sec.failed or topology is None else workload


def _faults(problems: _Problems, value: Any, topology: Topology | None,
            workload: Workload | None) -> tuple[Fault, ...] | None:
    """The listed faults, or None when any has a problem; each fault is checked on its own."""
    if not isinstance(value, list):
        problems.add("faults", f"must be a list, not {_kind(value)}")
        return None
    names = topology.names() if topology is not None else None
    out = [_fault(problems, f"faults[{i}]", item, i, names, workload) for i, item in enumerate(value)]
    faults = [f for f in out if f is not None]
    if len(faults) < len(out) or names is None:
        return None
    clash = conflicts(faults, names)
    if clash:
        a, b, name = clash
        problems.add(f"faults[{b.id}]", f"overlaps faults[{a.id}] on {name}; a heal would undo the other "
                     "(give them different times or targets)")
        return None
    return tuple(faults)


def _fault(problems: _Problems, where: str, item: Any, id_: int, names: PartNames | None,
           workload: Workload | None) -> Fault | None:
    if not isinstance(item, Mapping):
        problems.add(where, f"must be a mapping, not {_kind(item)}")
        return None
    before = len(problems)
    kind = item.get("kind")
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    typos = set()
    for key in item:
        if key in FAULT_KEYS or (spec is not None and key in spec.params):
            continue
        if spec is None:  # unknown kind: only a key that looks like one of the four can be judged
            if difflib.get_close_matches(str(key), FAULT_KEYS, n=1):
                typos.add(_unknown_key(problems, f"{where}.{key}", key, FAULT_KEYS))
            continue
        like_base = difflib.get_close_matches(str(key), FAULT_KEYS, n=1)
        known = FAULT_KEYS if like_base else tuple(spec.params)
        what = "unknown key" if like_base else f"unknown parameter for {kind}"
        if known:
            typos.add(_unknown_key(problems, f"{where}.{key}", key, known, what))
        else:
            problems.add(f"{where}.{key}", f"{what} (it takes none)")
    for key in FAULT_KEYS:
        if key not in item and key not in typos:
            problems.add(f"{where}.{key}", "is required")
    if "kind" in item and spec is None:
        problems.add(f"{where}.kind", unknown_kind(kind)
                     if isinstance(kind, str) else f"must be a string, not {_kind(kind)}")
    params = {k: v for k, v in item.items() if spec is not None and k in spec.params}
    for key, value in params.items():
        try:
            spec.params[key].check(key, value)
        except FaultError as exc:
            problems.add(f"{where}.{exc.field}", exc.message)
    if "target" in item:
        try:
            parse_target(item["target"])
        except FaultError as exc:
            problems.add(f"{where}.target", exc.message)
    for key, check in (("start", _number()), ("duration", _number(positive=True))):
        if key in item:
            try:
                check(item[key])
            except _Bad as bad:
                for sub, message in bad.under(f"{where}.{key}"):
                    problems.add(sub, message)
    if len(problems) > before:
        return None
    try:
        fault = make_fault(kind, item["target"], item["start"], item["duration"], params, id=id_)
        if names is not None:
            fault.names(names)
    except FaultError as exc:
        problems.add(f"{where}.{exc.field}", exc.message)
        return None
    if workload is not None and fault.end > workload.duration:
        problems.add(f"{where}.duration", f"the fault ends at {fault.end:g} s, after the workload "
                     f"({workload.duration:g} s); faults heal before the recovery wait")
        return None
    return fault


def _random_faults(problems: _Problems, value: Any, topology: Topology | None, workload: Workload | None,
                   seed: int, faults: tuple[Fault, ...] | None) -> RandomFaults | None:
    if value is None:
        return None
    sec = _Section(problems, "random_faults", value, RANDOM_KEYS)

    def kind(v: Any) -> str:
        if not isinstance(v, str) or v not in KINDS:
            raise _Bad(unknown_kind(v))
        return v

    def target(v: Any) -> str:
        try:
            return str(parse_target(v))
        except FaultError as exc:
            raise _Bad(exc.message) from None

    def params(v: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(v, Mapping):
            raise _Bad(f"must map fault kinds to their parameters, not {_kind(v)}")
        out, bad = {}, []
        for k, p in v.items():
            if not isinstance(p, Mapping):
                bad.append((f".{k}", f"must be a mapping of parameters, not {_kind(p)}"))
                continue
            try:
                out[kind(k)] = check_params(k, p)
            except FaultError as exc:
                bad.append((f".{k}.{exc.field}", exc.message))
            except _Bad as b:
                bad += b.under(f".{k}")
        if bad:
            raise _Bad(items=bad)
        return out

    spec = RandomFaults(
        count=sec.get("count", _number(minimum=1, integer=True)), kinds=sec.get("kinds", _list_of(kind)),
        targets=sec.get("targets", _list_of(target)), min_duration=sec.get("min_duration", _number(positive=True)),
        max_duration=sec.get("max_duration", _number(positive=True)), params=sec.get("params", params, {}))
    if sec.failed or topology is None or workload is None or faults is None:
        return None  # problems already noted, or nothing to place the faults against
    try:  # the file's own seed must give a schedule; other seeds are checked when run
        schedule_random(seed, spec.count, spec.kinds, spec.targets, workload.duration, spec.min_duration,
                        spec.max_duration, topology.names(), params=spec.params, existing=faults,
                        first_id=len(faults))
    except FaultError as exc:
        sec.add(exc.field, exc.message)
        return None
    return spec


def _expect(problems: _Problems, value: Any) -> tuple[Expectation, ...]:
    sec = _Section(problems, "expect", value, EXPECTABLE)
    out = [sec.get(name, lambda v, name=name: _expectation(name, v)) for name in sec.data if name in EXPECTABLE]
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
    """Every scenario in ``folder``, sorted by name; one error lists every problem of every bad file."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            scenarios.append(load(path))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError.of(problems)
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
    raise UnknownScenario(folder, "", f"no scenario {str(given)!r}; {hint}known: {', '.join(known) or 'none'}")
