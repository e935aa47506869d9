"""Scenario files: the shipped ones load, and every kind of mistake names the file and the field."""

from __future__ import annotations

import pytest

from chaos.scenario.model import Expectation
from chaos.scenario.files import DEFAULT_FOLDER, ScenarioError, find, read_scenario, read_scenarios
from tests.chaos.scenario_files import GOOD, write

SHIPPED = sorted(DEFAULT_FOLDER.glob("*.yaml"))
REQUIRED = {"baseline", "latency-jitter", "client-stream-drop", "gate-node-link-drop", "stalled-client",
            "stalled-gate-link", "bandwidth-squeeze", "node-kill-restart", "gate-kill-restart", "seeded-random-chaos"}


def test_the_ten_scenarios_are_shipped():
    assert REQUIRED <= {p.stem for p in SHIPPED}
    assert (DEFAULT_FOLDER / "README.md").is_file()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_is_valid(path):
    s = read_scenario(path)
    assert s.name == path.stem and s.description and s.expect
    assert any(e.name == "verdict" for e in s.expect)
    names = s.topology.names()
    for fault in s.schedule():
        assert fault.end <= s.workload.duration and fault.names(names)
    total = s.workload.duration + s.recovery_wait
    assert 5 <= total <= (60 if "load" in s.groups else 15), "keep each run short"


def test_load_all_is_sorted_and_find_works_by_name_and_path(tmp_path):
    names = [s.name for s in read_scenarios()]
    assert names == sorted(names) and REQUIRED <= set(names)
    assert find("baseline").name == "baseline"
    assert find(str(write(tmp_path, GOOD))).name == "x"
    with pytest.raises(ScenarioError, match="no scenario 'basline'; did you mean 'baseline'"):
        find("basline")


def test_good_file_loads_into_the_model(tmp_path):
    s = read_scenario(write(tmp_path, GOOD))
    assert s.topology.clients == (("alice", 0), ("bob", 1), ("carol", 0))
    assert s.workload.senders == ("alice", "bob", "carol") and s.workload.text_bytes == 32
    assert s.topology.gate_buffer == 1024 and s.topology.client_buffer == 10
    assert [(f.kind, str(f.target), f.params.get("latency_ms")) for f in s.faults] == [
        ("latency", "client bob", 100), ("kill", "node 1", None)]
    assert s.expect == (Expectation("verdict", "==", "valid"), Expectation("lost", "==", 0),
                        Expectation("lost_by_server", "==", 0))  # sqlite, the default, is durable
    assert s.extension_kinds == []


def test_a_durable_store_always_expects_nothing_lost_by_the_server(tmp_path):
    memory = read_scenario(write(tmp_path, GOOD.replace("topology:\n", "topology:\n  store: memory\n")))
    assert not any(e.name == "lost_by_server" for e in memory.expect)  # a memory store forgets by design
    stated = read_scenario(write(tmp_path, GOOD + "  lost_by_server: '<= 0'\n"))
    assert [e for e in stated.expect if e.name == "lost_by_server"] == [Expectation("lost_by_server", "<=", 0)]
    shipped = [s.name for s in read_scenarios() if s.topology.store in ("sqlite", "postgres")
               and Expectation("lost_by_server", "==", 0) not in s.expect
               and Expectation("lost_by_server", "<=", 0) not in s.expect]
    assert shipped == []


def test_client_list_is_spread_round_robin_over_gates(tmp_path):
    s = read_scenario(write(tmp_path, GOOD.replace("{alice: 0, bob: 1, carol: 0}", "[alice, bob, carol]")))
    assert s.topology.clients == (("alice", 0), ("bob", 1), ("carol", 0))


def test_security_keys_load_into_the_topology(tmp_path):
    s = read_scenario(write(tmp_path, GOOD.replace("  rooms: [General]\n", "  rooms: [General]\n  auth: token\n  tls: true\n"
                                          "  hostile: [mallory]\n  limits: {call_rate: 20, call_burst: 40}\n")))
    t = s.topology
    assert (t.auth, t.tls, t.hostile, t.limits) == ("token", True, (("mallory", 0),),
                                                    (("call_rate", 20.0), ("call_burst", 40.0)))
    assert t.client_names == ["alice", "bob", "carol"] and t.hostile_names == ["mallory"]


@pytest.mark.parametrize("change, field, message", [
    ("  auth: tokens", "topology.auth", "(did you mean 'token'?)"),
    ("  tls: yes please", "topology.tls", "must be true or false"),
    ("  hostile: [bob]", "topology.hostile", "bob cannot be both an honest client and a hostile one"),
    ("  limits: {call_rat: 5}", "topology.limits.call_rat", "unknown limit (did you mean 'call_rate'?)"),
    ("  limits: {call_rate: -1}", "topology.limits.call_rate", "must be a number >= 0"),
])
def test_bad_security_keys_name_the_field(tmp_path, change, field, message):
    path = write(tmp_path, GOOD.replace("  rooms: [General]\n", f"  rooms: [General]\n{change}\n"))
    with pytest.raises(ScenarioError) as info:
        read_scenario(path)
    assert str(info.value).startswith(f"{path}: {field}: ") and message in str(info.value), str(info.value)


BAD = [
    ("descripton: A typo.", "descripton", "unknown key (did you mean 'description'?)"),
    ("name: y", "name", "must equal the file's name without .yaml ('x')"),
    ("faults:\n  - {kind: latency, target: client bob, start: 1, duration: -2}", "faults[0].duration",
     "must be a positive number"),
    ("faults:\n  - {kind: latency, target: client bob, start: 1, duration: 1}\n  - {kind: smoke, target: node 0, "
     "start: 1, duration: 1}", "faults[1].kind", "unknown fault kind 'smoke'"),
    ("faults:\n  - {kind: reset, target: client bob, start: 1, duration: 1}", "faults[0].kind",
     "unknown fault kind 'reset' (did you mean 'reset_peer'?)"),
    ("faults:\n  - {kind: latency, target: client bob, duration: 1}", "faults[0].start", "is required"),
    ("faults:\n  - {kind: latency, target: client bob, strat: 1, duration: 1}", "faults[0].strat",
     "unknown key (did you mean 'start'?)"),
    ("faults:\n  - {kind: kill, target: node 0, start: 1, durration: 1}", "faults[0].durration",
     "unknown key (did you mean 'duration'?)"),
    ("topolgy:\n  clients: [alice]", "topolgy", "unknown key (did you mean 'topology'?)"),
    ("faults:\n  - {kind: latency, target: bob, start: 1, duration: 1}", "faults[0].target", "cannot read 'bob'"),
    ("faults:\n  - {kind: latency, target: client dave, start: 1, duration: 1}", "faults[0].target",
     "no client 'dave'"),
    ("faults:\n  - {kind: kill, target: client bob, start: 1, duration: 1}", "faults[0].target",
     "kill needs a process target"),
    ("faults:\n  - {kind: latency, target: client bob, start: 1, duration: 1, latency_ms: -5}",
     "faults[0].latency_ms", "must be >= 0"),
    ("faults:\n  - {kind: latency, target: client bob, start: 1, duration: 1, jiter_ms: 5}", "faults[0].jiter_ms",
     "unknown parameter for latency"),
    ("faults:\n  - {kind: latency, target: client bob, start: 5, duration: 2}", "faults[0].duration",
     "the fault ends at 7 s, after the workload (6 s)"),
    ("faults:\n  - {kind: disable, target: client bob, start: 1, duration: 2}\n"
     "  - {kind: disable, target: all client links, start: 2, duration: 2}", "faults[1]",
     "overlaps faults[0] on client-bob"),
    ("faults: {kind: latency}", "faults", "must be a list"),
    ("faults:\n  - {kind: latency, target: node 0 -> store, start: 1, duration: 1}", "faults[0].target",
     "there is no shared store in this topology (give it store: postgres)"),
    ("topology:\n  clients: [alice]\n  store: postgress", "topology.store",
     "must be one of sqlite, memory, postgres, not a str ('postgress') (did you mean 'postgres'?)"),
    ("topology:\n  nodes: 1\n  clients: {alice: 0, bob: 3}", "topology.clients.bob",
     "gate 3 does not exist (gates are numbered 0..0)"),
    ("topology:\n  clients: [alice, runner]", "topology.clients[1]", "'runner' is reserved"),
    ("topology:\n  clients: [alice, alice]", "topology.clients[1]", "'alice' is listed twice"),
    ("topology:\n  clients: [alice]\n  gate_bufer: 64", "topology.gate_bufer", "did you mean 'gate_buffer'?"),
    ("topology:\n  clients: [alice]\n  gate_buffer: 0", "topology.gate_buffer", "must be a whole number >= 1"),
    ("topology:\n  clients: [alice]\n  nodes: 1.5", "topology.nodes", "must be a whole number"),
    ("topology: [alice]", "topology", "must be a mapping"),
    ("workload:\n  senders: [alice, dave]", "workload.senders[1]", "'dave' is not a client"),
    ("workload:\n  text_bytes: 5000", "workload.text_bytes", "must not exceed topology.max_message_bytes (4096)"),
    ("workload:\n  rate: fast", "workload.rate", "must be a positive number, not a str"),
    ("expect:\n  lots: 0", "expect.lots", "unknown key (did you mean 'lost'?)"),
    ("expect:\n  lost: '> x'", "expect.lost", "cannot read '> x'"),
    ("expect:\n  lost: none", "expect.lost", "must be a number or a comparison"),
    ("expect:\n  verdict: maybe", "expect.verdict", "must be one of valid, invalid, unknown"),
    ("expect:\n  verdict: [valid, sure]", "expect.verdict[1]", "must be one of"),
    ("expect:\n  verdict: [valid, invalid]", "expect.verdict", "accepts both valid and invalid, so it can never fail"),
    ("random_faults:\n  count: 2\n  kinds: [latency, smoke]\n  targets: [all links]\n  min_duration: 1\n"
     "  max_duration: 2", "random_faults.kinds[1]", "unknown fault kind 'smoke'"),
    ("random_faults:\n  count: 2\n  kinds: [latency, reset]\n  targets: [all links]\n  min_duration: 1\n"
     "  max_duration: 2", "random_faults.kinds[1]", "unknown fault kind 'reset' (did you mean 'reset_peer'?)"),
    ("random_faults:\n  count: 2\n  kinds: [latency]\n  targets: [everything]\n  min_duration: 1\n"
     "  max_duration: 2", "random_faults.targets[0]", "cannot read 'everything'"),
    ("random_faults:\n  count: 2\n  kinds: [kill]\n  targets: [all links]\n  min_duration: 1\n"
     "  max_duration: 2", "random_faults.targets", "no target fits kill"),
    ("random_faults:\n  count: 30\n  kinds: [kill]\n  targets: [node 0]\n  min_duration: 1\n"
     "  max_duration: 2", "random_faults.count", "cannot place 30 faults"),
    ("random_faults:\n  count: 2\n  kinds: [latency]\n  targets: [all links]\n  min_duration: 1\n"
     "  max_duration: 2\n  params: {latency: {latency_ms: -1}}", "random_faults.params.latency.latency_ms",
     "must be >= 0"),
    ("random_faults:\n  count: 2\n  kinds: [latency]\n  targets: [all links]\n  min_duration: 1",
     "random_faults.max_duration", "is required"),
]


@pytest.mark.parametrize("change, field, message", BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_bad_files_name_the_file_and_the_field(tmp_path, change, field, message):
    lines = GOOD.splitlines()
    key = change.split(":", 1)[0]
    kept, skipping = [], False
    for line in lines:  # replace the section the change is about, keep the rest
        if not line.startswith(" "):
            skipping = line.split(":", 1)[0] == key
        if not skipping:
            kept.append(line)
    path = write(tmp_path, "\n".join(kept) + "\n" + change + "\n")
    with pytest.raises(ScenarioError) as info:
        read_scenario(path)
    assert str(info.value).startswith(f"{path}: {field}: "), str(info.value)
    assert message in str(info.value)
    assert len(info.value.problems) == 1, str(info.value)  # one mistake, one line: no knock-on errors


def test_every_problem_in_a_file_is_reported_each_naming_file_and_field(tmp_path):
    path = write(tmp_path, """\
        name: x
        descripton: Nine mistakes.
        topology:
          clients: [alice, bob]
        workload:
          rate: fast
          senders: [alice, dave]
        faults:
          - {kind: latency, target: client bob, strat: 1, duration: 1, jitter_ms: -3}
          - {kind: smoke, target: node 0, start: 1, duration: 1}
          - {kind: kill, target: client bob, start: 2, duration: 1}
        expect:
          lots: 0
          lost: none
        """)
    with pytest.raises(ScenarioError) as info:
        read_scenario(path)
    lines = str(info.value).splitlines()
    assert lines == [f"{path}: {field}: {message}" for _, field, message in info.value.problems]
    assert [(f, m.split(" (")[0].split(",")[0]) for _, f, m in info.value.problems] == [
        ("descripton", "unknown key"),
        ("workload.rate", "must be a positive number"),
        ("workload.senders[1]", "'dave' is not a client of the topology"),
        ("faults[0].strat", "unknown key"),
        ("faults[0].jitter_ms", "must be >= 0"),
        ("faults[1].kind", "unknown fault kind 'smoke'"),
        ("faults[2].target", "kill needs a process target"),
        ("expect.lots", "unknown key"),
        ("expect.lost", "must be a number or a comparison such as '> 0'"),
    ]
    assert "faults[0].start" not in str(info.value)  # the typo is the problem, not a missing start
    assert "did you mean 'start'?" in lines[3] and "did you mean 'description'?" in lines[0]


@pytest.mark.parametrize("text, message", [
    ("name: x\nfaults: [\n", "not valid YAML at line"),
    ("", "is empty"),
    ("- a\n- b\n", "must be a mapping, not a list"),
    ("name: x\ndescription: d\n", "topology: is required"),
])
def test_unreadable_files_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match=message) as info:
        read_scenario(path)
    assert str(info.value).startswith(str(path))


def test_load_all_lists_every_bad_file(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace("name: x", "name: y"), name="y")
    write(tmp_path, GOOD.replace("name: x", "name: q"), name="z")
    write(tmp_path, "", name="w")
    with pytest.raises(ScenarioError) as info:
        read_scenarios(tmp_path)
    assert "w.yaml: is empty" in str(info.value) and "z.yaml: name: must equal" in str(info.value)
    assert "x.yaml" not in str(info.value)


def test_a_full_client_buffer_is_exercised_by_more_than_one_shipped_scenario():
    """A gate's client_buffer_full drops (an unlogged one, say) must not rest on a single scenario."""
    stalling = [s.name for s in read_scenarios() if any(f.kind == "stop_reading" for f in s.faults)
                and Expectation("push_drops", ">", 0) in s.expect]
    assert len(stalling) >= 2 and any(len(s.faults) > 1 for s in read_scenarios() if s.name in stalling), stalling


LOAD = GOOD.replace("  clients: {alice: 0, bob: 1, carol: 0}\n  rooms: [General]\n",
                    "  load: {clients: 12, rooms: 3, workers: 2, rate: 30}\n").replace(
    "target: client bob", "target: client load07")


def test_a_load_section_names_its_clients_spreads_them_over_gates_and_rooms(tmp_path):
    s = read_scenario(write(tmp_path, LOAD))
    topo = s.topology
    assert topo.clients == () and topo.client_names == [] and s.workload.senders == ()
    assert topo.load_clients[:3] == (("load00", 0), ("load01", 1), ("load02", 0)) and len(topo.load_clients) == 12
    assert topo.rooms == ("room0", "room1", "room2") and topo.load.room_of(4) == "room1"
    assert (topo.load.workers, topo.load.rate) == (2, 30)
    assert "client-load07" in topo.names().links()  # each load client has its own link, faults find it
    assert [str(f.target) for f in s.faults][0] == "client load07"


@pytest.mark.parametrize("change, field, message", [
    ("  load: {clients: 12, rooms: 3, workers: 2, rate: 30}\n",
     "topology.rooms", "give their number as load.rooms"),
    ("  load: {clients: 0, rooms: 3}\n  rooms: [General]\n", "topology.load.clients", "whole number >= 1"),
    ("  load: {clients: 12, romos: 3}\n  rooms: [General]\n", "topology.load.romos", "did you mean 'rooms'"),
])
def test_bad_load_sections_name_the_field(tmp_path, change, field, message):
    text = LOAD.replace("  load: {clients: 12, rooms: 3, workers: 2, rate: 30}\n", change)
    if field == "topology.rooms":
        text = text.replace("  load:", "  rooms: [General]\n  load:")
    with pytest.raises(ScenarioError) as err:
        read_scenario(write(tmp_path, text))
    assert f"{field}: " in str(err.value) and message in str(err.value), str(err.value)


def test_a_copy_that_keeps_its_originals_name_is_named_after_its_own_file(tmp_path):
    """``cp scenarios/baseline.yaml my-test.yaml; pushchat chaos run my-test.yaml``: no renaming inside needed."""
    copy = tmp_path / "my-test.yaml"
    copy.write_text((DEFAULT_FOLDER / "baseline.yaml").read_text())
    original, scenario = find("baseline"), find(str(copy))
    assert scenario.name == "my-test" and scenario.path == copy
    assert (scenario.topology, scenario.workload, scenario.faults) == (original.topology, original.workload,
                                                                       original.faults)
    sibling = write(tmp_path, GOOD, "x")  # a folder of one's own: x.yaml, and y.yaml copied from it
    (tmp_path / "y.yaml").write_text(sibling.read_text())
    assert read_scenario(tmp_path / "y.yaml").name == "y"
    with pytest.raises(ScenarioError, match="must equal the file's name"):  # a name of no scenario: a typo
        read_scenario(write(tmp_path, GOOD.replace("name: x", "name: no-such-scenario"), "z"))
