"""Faults: targets, kinds, seeded schedules (pure), and the injector against fake links and processes."""

from __future__ import annotations

import asyncio
import time

import pytest

from chaos.fault import (EXTENSION_KINDS, FaultError, FaultInjector, TopologyNames, conflicts, make_fault,
                         parse_target, resolve, schedule_random)

NAMES = TopologyNames(nodes=2, gates=2, clients=(("alice", 0), ("bob", 1), ("carol", 0)))


# ---------------------------------------------------------------- targets and kinds


@pytest.mark.parametrize("text, canonical, kind, names", [
    ("client bob", "client bob", "latency", ["client-bob"]),
    ("client bob", "client bob", "stop_reading", ["bob"]),
    ("all client links", "all client links", "reset_peer", ["client-alice", "client-bob", "client-carol"]),
    ("gate 1 → node 0", "gate 1 -> node 0", "disable", ["gate1-node0"]),
    ("Gate 0->Node 1", "gate 0 -> node 1", "stall", ["gate0-node1"]),
    ("all gate links", "all gate links", "blackhole", ["gate0-node0", "gate0-node1", "gate1-node0", "gate1-node1"]),
    ("all links", "all links", "limit_data", ["client-alice", "client-bob", "client-carol", "gate0-node0",
                                              "gate0-node1", "gate1-node0", "gate1-node1"]),
    ("node 1", "node 1", "kill", ["node1"]),
    ("gate 0", "gate 0", "pause", ["gate0"]),
    ("all nodes", "all nodes", "kill", ["node0", "node1"]),
    ("all gates", "all gates", "pause", ["gate0", "gate1"]),
    ("all clients", "all clients", "stop_reading", ["alice", "bob", "carol"]),
])
def test_targets_resolve_to_the_topology_naming_convention(text, canonical, kind, names):
    target = parse_target(text)
    assert str(target) == canonical
    assert resolve(kind, target, NAMES) == names


@pytest.mark.parametrize("kind, target, message", [
    ("kill", "client bob", "kill needs a process target"),
    ("latency", "node 0", "latency needs a link target"),
    ("stop_reading", "gate 0 -> node 0", "stop_reading needs a client target"),
    ("latency", "the moon", "cannot read 'the moon'"),
])
def test_kind_and_target_must_fit(kind, target, message):
    with pytest.raises(FaultError, match=message) as info:
        make_fault(kind, target, 0, 1)
    assert info.value.field == "target"


WITH_STORE = TopologyNames(nodes=2, gates=1, clients=(("alice", 0),), store=True)


@pytest.mark.parametrize("text, canonical, kind, names", [
    ("node 1 -> store", "node 1 -> store", "latency", ["node1-store"]),
    ("Node 0 → Store", "node 0 -> store", "blackhole", ["node0-store"]),
    ("all store links", "all store links", "reset_peer", ["node0-store", "node1-store"]),
    ("store", "store", "kill", ["store"]),
    ("store", "store", "pause", ["store"]),
    ("all links", "all links", "latency", ["client-alice", "gate0-node0", "gate0-node1", "node0-store",
                                           "node1-store"]),
])
def test_store_targets_name_the_store_process_and_each_nodes_link_to_it(text, canonical, kind, names):
    target = parse_target(text)
    assert str(target) == canonical
    assert resolve(kind, target, WITH_STORE) == names


def test_store_targets_need_a_shared_store():
    for kind, text in (("latency", "node 0 -> store"), ("kill", "store"), ("reset_peer", "all store links")):
        with pytest.raises(FaultError, match="no shared store in this topology"):
            make_fault(kind, text, 0, 1).names(NAMES)
    with pytest.raises(FaultError, match="there are 2 node"):
        make_fault("latency", "node 2 -> store", 0, 1).names(WITH_STORE)


def test_targets_outside_the_topology_are_refused():
    for text, message in [("client dave", "no client 'dave'"), ("node 2", "2 node"), ("gate 0 -> node 5", "node"),
                          ("gate 2", "2 gate")]:
        kind = "kill" if text.startswith(("node", "gate 2")) else "latency"
        with pytest.raises(FaultError, match=message):
            make_fault(kind, text, 0, 1).names(NAMES)


def test_params_get_defaults_and_are_checked():
    assert make_fault("latency", "all links", 0, 1).params == {"latency_ms": 200, "jitter_ms": 50, "stream": "both"}
    assert make_fault("latency", "all links", 0, 1, {"latency_ms": 5}).params["latency_ms"] == 5
    for params, field, message in [({"latency": 5}, "latency", "unknown parameter"),
                                   ({"latency_ms": -1}, "latency_ms", ">= 0"),
                                   ({"latency_ms": "x"}, "latency_ms", "must be a number"),
                                   ({"stream": "sideways"}, "stream", "must be one of")]:
        with pytest.raises(FaultError, match=message) as info:
            make_fault("latency", "all links", 0, 1, params)
        assert info.value.field == field
    with pytest.raises(FaultError) as info:
        make_fault("latency", "all links", 0, 0)
    assert info.value.field == "duration"
    assert EXTENSION_KINDS == {"stall"}


def test_an_old_kind_name_gets_the_new_one_as_a_hint():
    with pytest.raises(FaultError, match=r"unknown fault kind 'reset' \(did you mean 'reset_peer'\?\)") as info:
        make_fault("reset", "client bob", 0, 1)
    assert info.value.field == "kind"
    with pytest.raises(FaultError, match=r"unknown fault kind 'smoke' \(known: latency, bandwidth, reset_peer, "):
        make_fault("smoke", "client bob", 0, 1)


def test_same_kind_on_the_same_target_may_not_overlap():
    a = make_fault("disable", "client bob", 1, 2, id=0)
    b = make_fault("disable", "all client links", 2.5, 1, id=1)
    assert conflicts([a, b], NAMES)[2] == "client-bob"
    assert conflicts([a, make_fault("latency", "client bob", 1, 2, id=1)], NAMES) is None
    assert conflicts([make_fault("kill", "node 0", 1, 2), make_fault("pause", "all nodes", 2, 2, id=1)], NAMES)


# ---------------------------------------------------------------- random schedules


def schedule(seed: int, count: int = 6):
    return schedule_random(seed, count, ["latency", "reset_peer", "disable", "kill", "pause"],
                           ["all links", "all nodes", "gate 1"], 10.0, 0.5, 2.0, NAMES)


def test_same_seed_gives_the_same_schedule_and_another_seed_another():
    first, second = schedule(7), schedule(7)
    assert [f.to_dict() for f in first] == [f.to_dict() for f in second]
    assert [f.to_dict() for f in schedule(8)] != [f.to_dict() for f in first]


@pytest.mark.parametrize("seed", range(20))
def test_random_schedule_is_staggered_without_overlap_and_inside_the_workload(seed):
    faults = schedule(seed)
    assert len(faults) == 6 and [f.id for f in faults] == list(range(6))
    assert all(0 <= f.start and f.end <= 10.0 and 0.5 <= f.duration <= 2.0 for f in faults)
    assert [f.start for f in faults] == sorted(f.start for f in faults)
    assert conflicts(faults, NAMES, strict=True) is None
    instants = sorted(t for f in faults for t in (f.start, f.end))
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(instants, instants[1:]))
    for f in faults:
        assert len(f.names(NAMES)) == 1  # each random fault hits one concrete part


def test_random_schedule_that_cannot_fit_says_so():
    with pytest.raises(FaultError, match="cannot place") as info:
        schedule_random(1, 10, ["kill"], ["node 0"], 4.0, 1.0, 2.0, NAMES)
    assert info.value.field == "count"
    with pytest.raises(FaultError, match="no target fits kill"):
        schedule_random(1, 1, ["kill"], ["all links"], 4.0, 1.0, 2.0, NAMES)


def test_random_schedule_avoids_existing_faults():
    existing = [make_fault("kill", "node 0", 0.0, 9.0, id=0)]
    faults = schedule_random(3, 4, ["kill"], ["all nodes"], 10.0, 0.5, 1.0, NAMES, existing=existing, first_id=1)
    assert {f.names(NAMES)[0] for f in faults} == {"node1"} and faults[0].id == 1


# ---------------------------------------------------------------- the injector, with fakes


class FakeLink:
    def __init__(self, name: str, calls: list, fail_on_add: bool = False) -> None:
        self.name, self.calls, self.fail_on_add = name, calls, fail_on_add
        self.toxics: dict[str, tuple] = {}
        self.enabled = True

    def add_toxic(self, type, stream="downstream", attributes=None, name=None, toxicity=1.0):
        if self.fail_on_add:
            raise RuntimeError("toxiproxy said 500")
        self.toxics[name] = (type, stream, attributes)
        self.calls.append(("add", self.name, name))
        return name

    def update_toxic(self, name, attributes=None, toxicity=None):
        raise AssertionError("not used")

    def remove_toxic(self, name):
        del self.toxics[name]
        self.calls.append(("remove", self.name, name))

    def disable(self):
        self.enabled = False
        self.calls.append(("disable", self.name))

    def enable(self):
        self.enabled = True
        self.calls.append(("enable", self.name))


class FakeLinks:
    def __init__(self, fail: str = "") -> None:
        self.calls: list = []
        self.links = {n: FakeLink(n, self.calls, fail_on_add=n == fail) for n in NAMES.links()}

    def get(self, name):
        return self.links[name]


class FakeProcesses:
    def __init__(self) -> None:
        self.calls: list = []

    async def kill(self, name):
        self.calls.append(("kill", name))

    async def restart(self, name):
        self.calls.append(("restart", name))

    async def pause(self, name):
        self.calls.append(("pause", name))

    async def resume(self, name):
        self.calls.append(("resume", name))


class SyncClient:
    def __init__(self) -> None:
        self.reading = True

    def stop_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True


class AsyncClient(SyncClient):
    async def stop_reading(self):
        self.reading = False

    async def resume_reading(self):
        self.reading = True


class FakeHistory:
    def __init__(self) -> None:
        self.records: list = []

    def info(self, process, f, value=None):
        self.records.append((process, f, value))


def injector(extensions: bool = True, fail: str = ""):
    links, processes, history = FakeLinks(fail), FakeProcesses(), FakeHistory()
    clients = {"alice": SyncClient(), "bob": AsyncClient(), "carol": SyncClient()}
    return FaultInjector(links, processes, clients, history, extensions, names=NAMES), links, processes, clients, history


def test_toxic_faults_add_named_toxics_and_heal_removes_exactly_them():
    inj, links, _, _, history = injector()
    latency = make_fault("latency", "all client links", 0, 1, {"latency_ms": 300, "stream": "downstream"}, id=4)
    reset_peer = make_fault("reset_peer", "gate 1 -> node 0", 0, 1, id=5)

    async def go():
        assert await inj.start(latency) and await inj.start(reset_peer)
        assert links.get("client-bob").toxics == {
            "chaos-latency-4-downstream": ("latency", "downstream", {"latency": 300, "jitter": 50})}
        assert links.get("gate1-node0").toxics == {
            "chaos-reset_peer-5-upstream": ("reset_peer", "upstream", {"timeout": 0}),
            "chaos-reset_peer-5-downstream": ("reset_peer", "downstream", {"timeout": 0})}
        await inj.heal(latency)
        assert links.get("client-bob").toxics == {} and links.get("gate1-node0").toxics
        await inj.heal_all()

    asyncio.run(go())
    assert all(not link.toxics for link in links.links.values())
    phases = [(v["id"], v["phase"], v["target"]) for _, f, v in history.records if f == "fault"]
    assert phases == [(4, "start", "all client links"), (5, "start", "gate 1 -> node 0"),
                      (4, "heal", "all client links"), (5, "heal", "gate 1 -> node 0")]
    assert history.records[0][0] == "nemesis"
    assert history.records[0][2]["names"] == ["client-alice", "client-bob", "client-carol"]


def test_blackhole_and_disable_and_limit_data():
    inj, links, _, _, _ = injector()

    async def go():
        await inj.start(make_fault("blackhole", "client alice", 0, 1, id=1))
        await inj.start(make_fault("disable", "client bob", 0, 1, id=2))
        await inj.start(make_fault("limit_data", "client carol", 0, 1, {"bytes": 100, "stream": "upstream"}, id=3))
        assert links.get("client-alice").toxics["chaos-blackhole-1-downstream"] == ("timeout", "downstream",
                                                                                    {"timeout": 0})
        assert not links.get("client-bob").enabled
        assert links.get("client-carol").toxics == {"chaos-limit_data-3-upstream": ("limit_data", "upstream",
                                                                                    {"bytes": 100})}
        await inj.heal_all()
        assert links.get("client-bob").enabled and not links.get("client-alice").toxics

    asyncio.run(go())


def test_process_and_client_faults_call_their_hooks():
    inj, _, processes, clients, _ = injector()

    async def go():
        await inj.start(make_fault("kill", "all nodes", 0, 1, id=1))
        await inj.start(make_fault("pause", "gate 1", 0, 1, id=2))
        await inj.start(make_fault("stop_reading", "all clients", 0, 1, id=3))
        assert not any(c.reading for c in clients.values())
        await inj.heal_all()

    asyncio.run(go())
    assert processes.calls == [("kill", "node0"), ("kill", "node1"), ("pause", "gate1"), ("resume", "gate1"),
                               ("restart", "node1"), ("restart", "node0")]
    assert all(c.reading for c in clients.values())


def test_extension_faults_are_skipped_with_a_reason_against_a_real_toxiproxy():
    stall = make_fault("stall", "gate 0 -> node 0", 0, 1, id=1)
    inj, links, _, _, history = injector(extensions=False)

    async def go():
        assert await inj.start(stall) is False
        await inj.heal(stall)

    asyncio.run(go())
    assert links.calls == [] and [v["phase"] for _, _, v in history.records] == ["skipped"]
    assert "embedded Toxiproxy" in history.records[0][2]["reason"]
    inj, links, _, _, _ = injector(extensions=True)
    asyncio.run(inj.start(stall))
    assert links.get("gate0-node0").toxics == {"chaos-stall-1-downstream": ("stall", "downstream", {})}


def test_a_fault_that_cannot_be_applied_is_undone_and_recorded():
    inj, links, _, _, history = injector(fail="client-bob")
    fault = make_fault("latency", "all client links", 0, 1, id=1)
    assert asyncio.run(inj.start(fault)) is False
    assert not links.get("client-alice").toxics and inj.active == []
    record = history.records[-1][2]
    assert record["phase"] == "error" and "toxiproxy said 500" in record["error"]


def test_run_follows_the_schedule_and_heals_in_time_order():
    inj, links, processes, _, history = injector()
    schedule = [make_fault("disable", "client bob", 0.0, 0.06, id=0), make_fault("kill", "node 0", 0.03, 0.06, id=1)]
    t0 = time.monotonic()
    asyncio.run(inj.run(schedule, t0))
    assert time.monotonic() - t0 >= 0.09
    assert [(v["id"], v["phase"]) for _, _, v in history.records] == [(0, "start"), (1, "start"), (0, "heal"),
                                                                        (1, "heal")]
    assert links.calls == [("disable", "client-bob"), ("enable", "client-bob")]
    assert processes.calls == [("kill", "node0"), ("restart", "node0")]


def test_cancelling_the_run_heals_what_is_active():
    inj, links, _, _, history = injector()

    async def go():
        task = asyncio.create_task(inj.run([make_fault("latency", "all links", 0.0, 600.0, id=0)], time.monotonic()))
        deadline = time.monotonic() + 5
        while not inj.active:
            assert time.monotonic() < deadline, "the fault never started"
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert all(not link.toxics for link in links.links.values())
    assert [v["phase"] for _, _, v in history.records] == ["start", "heal"]
