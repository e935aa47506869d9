"""Scenario files: YAML in, a validated :class:`~chaos.scenario.model.Scenario` out.

Loading validates everything a run would trip on later (unknown keys,
bad targets, faults outside the workload, impossible random schedules,
expectations naming no result) and reports every problem of a file at
once, one ``FILE: FIELD.PATH: problem`` line each, so one edit fixes
them all. The format is documented for users in scenarios/README.md.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from chaos.faults.fault import Fault, make_fault
from chaos.scenario.fields import (REQUIRED, Bad, Problem, Problems, Section, as_is, list_of, number, one_line, one_of,
                                   text, unknown_key, what)
from chaos.checker.systems import DEFAULT_SYSTEM, SYSTEMS
from chaos.faults.kinds import KINDS, FaultError, check_params, unknown_kind
from chaos.naming import PartNames
from chaos.scenario import goverse as goverse_scenario
from chaos.scenario.expect import expect_of, expect_on_of
from chaos.scenario.goverse import GOVERSE
from chaos.scenario.model import GATE_LIMIT_FLAGS, LoadSpec, RandomFaults, Scenario, TopologySpec, Workload
from chaos.faults.schedule import conflicts, schedule_random
from chaos.faults.target import parse_target

# An installed distribution ships scenarios/ as chaos/scenarios (see pyproject.toml);
# a source checkout, and an editable install of one, reads the top-level folder.
_SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_FOLDER = _SHIPPED if _SHIPPED.is_dir() else _SHIPPED.parent.parent / "scenarios"
RESERVED_PROCESSES = ("nemesis", "runner")  # history process names that are not clients
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

TOP_KEYS = ("name", "description", "group", "seed", "system", "topology", "workload", "recovery_wait", "faults",
            "random_faults", "expect", "expect_on")
TOPOLOGY_KEYS = ("nodes", "gates", "clients", "rooms", "gate_buffer", "client_buffer", "history_limit",
                 "max_message_bytes", "store", "etcd", "lease_ttl", "auth", "tls", "hostile", "limits", "load",
                 "network", "page_size", "push_to_sender")
LOAD_KEYS = ("clients", "rooms", "workers", "rate", "presence")
AUTH_MODES = ("none", "token")
NETWORKS = ("host", "namespaces")  # where servers run (see TopologySpec.network)
STORES = ("sqlite", "memory", "postgres")  # the nodes' store in a run (see TopologySpec.store)
WORKLOAD_KEYS = ("duration", "rate", "senders", "text_bytes", "presence", "typists", "stale_readers")
FAULT_KEYS = ("kind", "target", "start", "duration")
RANDOM_KEYS = ("count", "kinds", "targets", "min_duration", "max_duration", "params")


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


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise Bad(f"must be a name (a letter, then letters, digits, _ or -), not {what(value)}")
    if value in RESERVED_PROCESSES:
        raise Bad(f"{value!r} is reserved for the history's {value} process")
    return value


def _groups(value: Any) -> tuple[str, ...]:
    """``group: links`` or ``group: [links, quick]``: what ``--group`` selects it by."""
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) and _NAME.match(n) for n in names):
        raise Bad(f"must be a group name or a list of them (a letter, then letters, digits, _ or -), not {what(value)}")
    return tuple(dict.fromkeys(names))


def in_group(scenarios: Sequence[Scenario], group: str) -> list[Scenario]:
    """The scenarios whose ``group:`` names ``group``."""
    return [s for s in scenarios if group in s.groups]


#: Groups that ``--all`` (and a campaign of ``all``) leave out: minutes each and the whole machine; run them by
#: name or ``--group``.
ON_DEMAND_GROUPS: tuple[str, ...] = ("load",)  # network is in --all; a machine without root lists it as not run


def _copied_from(path: Path, name: str) -> bool:
    """A copy that keeps its original's ``name:`` (``cp scenarios/baseline.yaml my-test.yaml``): a scenario by
    that name is next to it or among the shipped ones. Such a copy is named after its own file."""
    return any((folder / f"{name}.yaml").is_file() for folder in (path.parent, DEFAULT_FOLDER))


def by_default(scenarios: Sequence[Scenario]) -> list[Scenario]:
    """The scenarios ``--all`` runs: those in no on-demand group."""
    return [s for s in scenarios if not set(s.groups) & set(ON_DEMAND_GROUPS)]


def read_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file; a ScenarioError lists every problem found."""
    path = Path(path)
    file = str(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnknownScenario(file, "", "no such scenario file") from None
    except OSError as exc:
        raise ScenarioError(file, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(file, "", f"is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(file, "", f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        raise ScenarioError(file, "", "is empty")
    if not isinstance(data, Mapping):
        raise ScenarioError(file, "", f"must be a mapping, not {what(data)}")
    problems = Problems(file)
    top = Section(problems, "", data, TOP_KEYS)
    name = top.get("name", _name)
    if name is not None and name != path.stem:
        if _copied_from(path, name):
            name = path.stem
        else:
            top.add("name", f"must equal the file's name without .yaml ({path.stem!r}), not {name!r}")
    raw_topology = top.get("topology", as_is)
    topology = None if raw_topology is None else _topology(Section(problems, "topology", raw_topology,
                                                                    TOPOLOGY_KEYS))
    workload = _workload(Section(problems, "workload", top.get("workload", as_is, {}), WORKLOAD_KEYS), topology)
    seed = top.get("seed", number(integer=True), 0)
    description = top.get("description", one_line, "")
    groups = top.get("group", _groups, ())
    recovery_wait = top.get("recovery_wait", number(), 3.0)
    faults = _faults(problems, top.get("faults", as_is, []), topology, workload)
    random_faults = _random_faults(problems, top.get("random_faults", as_is, None), topology, workload, seed,
                                   faults)
    expect = expect_of(problems, top.get("expect", as_is, {}), topology.store if topology else None)
    system = top.get("system", one_of(SYSTEMS), DEFAULT_SYSTEM)
    expect_on = expect_on_of(Section(problems, "expect_on", top.get("expect_on", as_is, {}), SYSTEMS))
    if problems.found:
        raise ScenarioError.of(problems.found)
    assert topology is not None and workload is not None and faults is not None
    scenario = Scenario(name=name, description=description, seed=seed, topology=topology, workload=workload,
                        recovery_wait=recovery_wait, faults=faults, random_faults=random_faults, expect=expect,
                        path=path, groups=groups, system=system, expect_on=expect_on)
    if system == GOVERSE:
        for where, why in goverse_scenario.refusals(topology, workload, scenario.kinds) or \
                goverse_scenario.shared_links(scenario):
            problems.add(where, why)
        if problems.found:
            raise ScenarioError.of(problems.found)
    return scenario


def _topology(sec: Section) -> TopologySpec | None:
    """The topology, or None when it has problems (then nothing that depends on it is checked)."""
    nodes = sec.get("nodes", number(minimum=1, integer=True), 1)
    before = sec.count
    gates = sec.get("gates", number(minimum=1, integer=True), 1)
    gates_known = sec.count == before

    def clients(value: Any) -> tuple[tuple[str, int], ...]:
        if isinstance(value, list):
            names = list_of(_name)(value)
            return tuple((n, i % gates) for i, n in enumerate(names))
        if not isinstance(value, Mapping) or not value:
            raise Bad(f"must map client names to gate indexes, or list names; not {what(value)}")
        out, bad = [], []
        for n, gate in value.items():
            try:
                _name(n)
                gate = number(integer=True)(gate)
            except Bad as b:
                bad += b.under(f".{n}")
                continue
            if gates_known and gate >= gates:
                bad.append((f".{n}", f"gate {gate} does not exist (gates are numbered 0..{gates - 1})"))
                continue
            out.append((n, gate))
        if bad:
            raise Bad(items=bad)
        return tuple(out)

    limits = {key: sec.get(key, number(minimum=1, integer=True), getattr(TopologySpec, key))
              for key in ("gate_buffer", "client_buffer", "history_limit", "max_message_bytes", "page_size")}
    has_load = isinstance(sec.data, Mapping) and sec.data.get("load") is not None
    load = _load(Section(sec.problems, "topology.load", sec.data["load"], LOAD_KEYS)) if has_load else None
    if has_load and load is None:
        sec.count += 1  # its problems are noted: nothing that depends on the topology is checked
    members = sec.get("clients", clients, () if has_load else REQUIRED)
    hostile = sec.get("hostile", clients, ())
    clash = sorted(set(dict(hostile or ())) & set(dict(members or ())))
    if clash:
        sec.add("hostile", f"{', '.join(clash)} cannot be both an honest client and a hostile one")
    auth = sec.get("auth", one_of(AUTH_MODES), TopologySpec.auth)
    tls = sec.get("tls", flag, TopologySpec.tls)
    limits["push_to_sender"] = sec.get("push_to_sender", flag, TopologySpec.push_to_sender)
    gate_limits = sec.get("limits", gate_limits_of, ())
    rooms = sec.get("rooms", list_of(text), TopologySpec.rooms)
    if load is not None:
        if isinstance(sec.data, Mapping) and "rooms" in sec.data:
            sec.add("rooms", "with topology.load the rooms are room0, room1, …: give their number as load.rooms")
        rooms = load.room_names()
        clash = sorted(set(dict(load.clients_on(gates or 1))) & set(dict(members or ())) | set(dict(hostile or ())))
        if clash:
            sec.add("load", f"{', '.join(clash[:3])}: a load client's name, given to a named client too")
    store = sec.get("store", one_of(STORES), TopologySpec.store)
    etcd = sec.get("etcd", number(integer=True), TopologySpec.etcd)
    lease_ttl = sec.get("lease_ttl", number(minimum=1), TopologySpec.lease_ttl)
    network = sec.get("network", one_of(NETWORKS), TopologySpec.network)
    if etcd not in (0, 1, 3):
        sec.add("etcd", f"must be 0 (no cluster), 1 or 3 members, not {etcd}")
    elif etcd and store != "postgres":
        sec.add("etcd", "a cluster on etcd needs the store its nodes share: give the topology store: postgres")
    if sec.failed:
        return None
    return TopologySpec(nodes=nodes, gates=gates, clients=members, rooms=rooms, store=store, etcd=etcd,
                        lease_ttl=lease_ttl, auth=auth, tls=tls, hostile=hostile, limits=gate_limits, load=load,
                        network=network, **limits)


def _load(sec: Section) -> LoadSpec | None:
    """``topology.load``: how many clients the worker processes drive, over how many rooms, at what total rate."""
    spec = LoadSpec(clients=sec.get("clients", number(minimum=1, integer=True)),
                    rooms=sec.get("rooms", number(minimum=1, integer=True), LoadSpec.rooms),
                    workers=sec.get("workers", number(minimum=1, integer=True), LoadSpec.workers),
                    rate=sec.get("rate", number(positive=True), LoadSpec.rate),
                    presence=sec.get("presence", flag, LoadSpec.presence))
    return None if sec.failed else spec


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"must be true or false, not {what(value)}")
    return value


def gate_limits_of(value: Any) -> tuple[tuple[str, float], ...]:
    """``topology.limits``: the gates' limits by name (see ``GATE_LIMIT_FLAGS``), each a number >= 0."""
    if not isinstance(value, Mapping):
        raise Bad(f"must map limit names ({', '.join(GATE_LIMIT_FLAGS)}) to numbers, not {what(value)}")
    out, bad = [], []
    for key, amount in value.items():
        if key not in GATE_LIMIT_FLAGS:
            close = difflib.get_close_matches(str(key), GATE_LIMIT_FLAGS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(GATE_LIMIT_FLAGS)})"
            bad.append((f".{key}", f"unknown limit{hint}"))
            continue
        try:
            out.append((key, number(minimum=0)(amount)))
        except Bad as b:
            bad += b.under(f".{key}")
    if bad:
        raise Bad(items=bad)
    return tuple(out)


def _workload(sec: Section, topology: TopologySpec | None) -> Workload | None:
    def senders(value: Any) -> tuple[str, ...]:
        names = list_of(text)(value)
        if topology is not None:
            bad = [(f"[{i}]", f"{n!r} is not a client of the topology ({', '.join(topology.client_names)})")
                   for i, n in enumerate(names) if n not in topology.client_names]
            if bad:
                raise Bad(items=bad)
        return names

    text_bytes = sec.get("text_bytes", number(minimum=1, integer=True), Workload.text_bytes)
    if topology is not None and text_bytes > topology.max_message_bytes:
        sec.add("text_bytes", f"must not exceed topology.max_message_bytes ({topology.max_message_bytes})")
    workload = Workload(duration=sec.get("duration", number(positive=True), Workload.duration),
                        rate=sec.get("rate", number(positive=True), Workload.rate),
                        senders=sec.get("senders", senders, tuple(topology.client_names) if topology else ()),
                        text_bytes=text_bytes, presence=sec.get("presence", flag, Workload.presence),
                        typists=tuple(sec.get("typists", senders, ())),
                        stale_readers=tuple(sec.get("stale_readers", senders, ())))
    if set(workload.typists) & set(workload.senders):
        sec.add("typists", "a typist never sends: give workload.senders without it (the default is every client)")
    return None if sec.failed or topology is None else workload


def _faults(problems: Problems, value: Any, topology: TopologySpec | None,
            workload: Workload | None) -> tuple[Fault, ...] | None:
    """The listed faults, or None when any has a problem; each fault is checked on its own."""
    if not isinstance(value, list):
        problems.add("faults", f"must be a list, not {what(value)}")
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


def _fault(problems: Problems, where: str, item: Any, id_: int, names: PartNames | None,
           workload: Workload | None) -> Fault | None:
    if not isinstance(item, Mapping):
        problems.add(where, f"must be a mapping, not {what(item)}")
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
                typos.add(unknown_key(problems, f"{where}.{key}", key, FAULT_KEYS))
            continue
        like_base = difflib.get_close_matches(str(key), FAULT_KEYS, n=1)
        known = FAULT_KEYS if like_base else tuple(spec.params)
        label = "unknown key" if like_base else f"unknown parameter for {kind}"
        if known:
            typos.add(unknown_key(problems, f"{where}.{key}", key, known, label))
        else:
            problems.add(f"{where}.{key}", f"{label} (it takes none)")
    for key in FAULT_KEYS:
        if key not in item and key not in typos:
            problems.add(f"{where}.{key}", "is required")
    if "kind" in item and spec is None:
        problems.add(f"{where}.kind", unknown_kind(kind)
                     if isinstance(kind, str) else f"must be a string, not {what(kind)}")
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
    for key, check in (("start", number()), ("duration", number(positive=True))):
        if key in item:
            try:
                check(item[key])
            except Bad as bad:
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


def _random_faults(problems: Problems, value: Any, topology: TopologySpec | None, workload: Workload | None,
                   seed: int, faults: tuple[Fault, ...] | None) -> RandomFaults | None:
    if value is None:
        return None
    sec = Section(problems, "random_faults", value, RANDOM_KEYS)

    def kind(v: Any) -> str:
        if not isinstance(v, str) or v not in KINDS:
            raise Bad(unknown_kind(v))
        return v

    def target(v: Any) -> str:
        try:
            return str(parse_target(v))
        except FaultError as exc:
            raise Bad(exc.message) from None

    def params(v: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(v, Mapping):
            raise Bad(f"must map fault kinds to their parameters, not {what(v)}")
        out, bad = {}, []
        for k, p in v.items():
            if not isinstance(p, Mapping):
                bad.append((f".{k}", f"must be a mapping of parameters, not {what(p)}"))
                continue
            try:
                out[kind(k)] = check_params(k, p)
            except FaultError as exc:
                bad.append((f".{k}.{exc.field}", exc.message))
            except Bad as b:
                bad += b.under(f".{k}")
        if bad:
            raise Bad(items=bad)
        return out

    spec = RandomFaults(
        count=sec.get("count", number(minimum=1, integer=True)), kinds=sec.get("kinds", list_of(kind)),
        targets=sec.get("targets", list_of(target)), min_duration=sec.get("min_duration", number(positive=True)),
        max_duration=sec.get("max_duration", number(positive=True)), params=sec.get("params", params, {}))
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


def read_scenarios(folder: str | Path = DEFAULT_FOLDER) -> list[Scenario]:
    """Every scenario in ``folder``, sorted by name; one error lists every problem of every bad file."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            scenarios.append(read_scenario(path))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError.of(problems)
    return sorted(scenarios, key=lambda s: s.name)


def find(name_or_path: str | Path, folder: str | Path = DEFAULT_FOLDER) -> Scenario:
    """A scenario by name (``stalled-client``) from ``folder``, or by file path."""
    given = Path(name_or_path)
    if given.suffix in (".yaml", ".yml") or given.is_file() or len(given.parts) > 1:
        return read_scenario(given)
    candidate = Path(folder) / f"{given}.yaml"
    if candidate.is_file():
        return read_scenario(candidate)
    known = sorted(p.stem for p in Path(folder).glob("*.yaml"))
    close = difflib.get_close_matches(str(given), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UnknownScenario(folder, "", f"no scenario {str(given)!r}; {hint}known: {', '.join(known) or 'none'}")
