"""The nemesis applies faults and heals them, against fake links, processes and clients."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from chaos.faults.fault import make_fault
from chaos.faults.kinds import KINDS, Param, register, toxic
from chaos.naming import PartNames
from chaos.faults.nemesis import FaultInjector

NAMES = PartNames(nodes=2, gates=2, clients=(("alice", 0), ("bob", 1), ("carol", 0)))


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

    # the server kinds' side
    async def add_fault_point(self, name, spec):
        self.calls.append(("add_fault_point", name, dict(spec)))

    async def remove_fault_point(self, name, fault_id):
        self.calls.append(("remove_fault_point", name, fault_id))

    async def set_clock(self, name, jump_s, rate):
        self.calls.append(("set_clock", name, jump_s, rate))


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


def injector(extensions: bool = True, fail: str = "", seed: int = 0):
    links, processes, history = FakeLinks(fail), FakeProcesses(), FakeHistory()
    clients = {"alice": SyncClient(), "bob": AsyncClient(), "carol": SyncClient()}
    return (FaultInjector(links, processes, clients, history, extensions, names=NAMES, seed=seed), links, processes,
            clients, history)


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
                               ("restart", "node0"), ("restart", "node1")]  # the parts of one fault at once
    assert all(c.reading for c in clients.values())


def test_extension_faults_are_skipped_with_a_reason_against_a_real_toxiproxy():
    register(toxic("rst", "reset", lambda p: {}))  # an extension toxic no standard toxic stands in for
    try:
        rst = make_fault("rst", "gate 0 -> node 0", 0, 1, id=1)
        inj, links, _, _, history = injector(extensions=False)

        async def go():
            assert await inj.start(rst) is False
            await inj.heal(rst)

        asyncio.run(go())
        assert links.calls == [] and [v["phase"] for _, _, v in history.records] == ["skipped"]
        assert "embedded Toxiproxy" in history.records[0][2]["reason"]
        inj, links, _, _, _ = injector(extensions=True)
        asyncio.run(inj.start(rst))
        assert links.get("gate0-node0").toxics == {"chaos-rst-1-upstream": ("reset", "upstream", {}),
                                                   "chaos-rst-1-downstream": ("reset", "downstream", {})}
    finally:
        del KINDS["rst"]


def test_a_stall_is_applied_on_any_toxiproxy():
    """Links put standard toxics in its place on a server without extensions (test_links), so never skipped."""
    stall = make_fault("stall", "gate 0 -> node 0", 0, 1, id=1)
    inj, links, _, _, history = injector(extensions=False)
    assert asyncio.run(inj.start(stall)) is True
    assert links.get("gate0-node0").toxics == {"chaos-stall-1-downstream": ("stall", "downstream", {})}
    assert [v["phase"] for _, _, v in history.records] == ["start"]


def test_server_faults_set_and_clear_the_fault_points_of_the_parts_they_name():
    inj, _, processes, _, history = injector(seed=42)
    drop = make_fault("push_drop", "client bob", 0, 1, {"percent": 30, "room": "General"}, id=2)
    reorder = make_fault("push_reorder", "gate 1 -> node 0", 0, 1, {"behind": 2}, id=3)
    abort = make_fault("rpc_abort", "all nodes", 0, 1, {"method": "SendMessage", "percent": 20, "when": "after"}, id=4)
    store = make_fault("store_delay", "node 1", 0, 1, {"delay_ms": 50, "max_active_faults": 3}, id=5)

    async def go():
        for fault in (drop, reorder, abort, store):
            assert await inj.start(fault)
        await inj.heal_all()

    asyncio.run(go())
    added = [c for c in processes.calls if c[0] == "add_fault_point"]
    assert added == [
        ("add_fault_point", "gate1", {"id": "chaos-push_drop-2", "point": "push", "action": "drop", "seed": 42,
                                      "percent": 30.0, "max_active_faults": 0, "room": "General", "client": "bob"}),
        ("add_fault_point", "node0", {"id": "chaos-push_reorder-3", "point": "push", "action": "reorder", "seed": 42,
                                      "percent": 100.0, "max_active_faults": 0, "behind": 2, "gate": "gate1"}),
        ("add_fault_point", "node0", {"id": "chaos-rpc_abort-4", "point": "rpc", "action": "abort", "seed": 42,
                                      "percent": 20.0, "max_active_faults": 0, "method": "SendMessage",
                                      "code": "UNAVAILABLE", "when": "after"}),
        ("add_fault_point", "node1", {"id": "chaos-rpc_abort-4", "point": "rpc", "action": "abort", "seed": 42,
                                      "percent": 20.0, "max_active_faults": 0, "method": "SendMessage",
                                      "code": "UNAVAILABLE", "when": "after"}),
        ("add_fault_point", "node1", {"id": "chaos-store_delay-5", "point": "store", "action": "delay", "seed": 42,
                                      "percent": 100.0, "max_active_faults": 3, "delay_ms": 50})]
    removed = [c[1:] for c in processes.calls if c[0] == "remove_fault_point"]
    assert sorted(removed) == sorted([("gate1", "chaos-push_drop-2"), ("node0", "chaos-push_reorder-3"),
                                      ("node0", "chaos-rpc_abort-4"), ("node1", "chaos-rpc_abort-4"),
                                      ("node1", "chaos-store_delay-5")])
    starts = [v for _, _, v in history.records if v["phase"] == "start"]
    assert [s["names"] for s in starts] == [["gate1"], ["node0"], ["node0", "node1"], ["node1"]]


def test_a_clock_fault_moves_the_clock_and_its_heal_puts_it_back():
    inj, _, processes, _, _ = injector()
    back = make_fault("clock", "node 1", 0, 1, {"jump_s": -3600}, id=1)
    skew = make_fault("clock", "all gates", 0, 1, {"rate": 3}, id=2)

    async def go():
        assert await inj.start(back) and await inj.start(skew)
        await inj.heal(back)
        await inj.heal(skew)

    asyncio.run(go())
    assert processes.calls == [("set_clock", "node1", -3600, 1.0), ("set_clock", "gate0", 0, 3.0),
                               ("set_clock", "gate1", 0, 3.0), ("set_clock", "node1", 0, 1.0),
                               ("set_clock", "gate0", 0, 1.0), ("set_clock", "gate1", 0, 1.0)]


def test_a_fault_that_cannot_be_applied_is_undone_and_recorded():
    inj, links, _, _, history = injector(fail="client-bob")
    fault = make_fault("latency", "all client links", 0, 1, id=1)
    assert asyncio.run(inj.start(fault)) is False
    assert not links.get("client-alice").toxics and inj.active == []
    record = history.records[-1][2]
    assert record["phase"] == "error" and "toxiproxy said 500" in record["error"]


def test_a_fault_on_many_parts_hits_them_at_once_and_a_cancel_meanwhile_undoes_every_step():
    """500 client links in a load run: applied one by one they took 20 s, and a cancel half-way (the run's
    end) left the applied toxics behind, resetting every reconnection for good."""
    inj, links, _, _, history = injector()
    started = threading.Barrier(3, timeout=5)  # three links' toxics in flight together, or this breaks
    release = threading.Event()
    for name in ("client-alice", "client-bob", "client-carol"):
        link = links.get(name)
        add = link.add_toxic

        def slow(*args, add=add, **kwargs):
            if not release.is_set():
                started.wait()
                release.wait(5)
            return add(*args, **kwargs)

        link.add_toxic = slow

    async def go():
        task = asyncio.create_task(inj.start(make_fault("latency", "all client links", 0, 1, id=0)))
        await asyncio.to_thread(started.wait)  # all three in flight at once
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    added = sorted(c[1:] for c in links.calls if c[0] == "add")
    assert len(added) >= 3 and added == sorted(c[1:] for c in links.calls if c[0] == "remove")
    assert all(not link.toxics for link in links.links.values()), links.calls
    assert inj.active == [] and history.records == []


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


def test_a_kind_added_to_the_registry_alone_is_applied_and_healed(monkeypatch):
    monkeypatch.setitem(KINDS, "slow_close", toxic("slow_close", "slow_close", lambda p: {"delay": p["delay_ms"]},
                                                   delay_ms=Param(100, int)))
    inj, links, _, _, history = injector()
    fault = make_fault("slow_close", "client carol", 0, 1, {"delay_ms": 250}, id=7)

    async def go():
        assert await inj.start(fault)
        assert links.get("client-carol").toxics == {
            "chaos-slow_close-7-upstream": ("slow_close", "upstream", {"delay": 250}),
            "chaos-slow_close-7-downstream": ("slow_close", "downstream", {"delay": 250})}
        await inj.heal(fault)

    asyncio.run(go())
    assert links.get("client-carol").toxics == {}
    assert [(v["fault"], v["phase"], v["names"]) for _, _, v in history.records] == [
        ("slow_close", "start", ["client-carol"]), ("slow_close", "heal", ["client-carol"])]


class Unanswered(RuntimeError):
    """What ``chaos.infra.links`` raises when the Toxiproxy API gives no answer in time: no HTTP status."""

    status = None


def test_a_heal_that_times_out_is_tried_again_until_it_succeeds_and_each_attempt_is_recorded(monkeypatch):
    """A soak's heal of a stall timed out on a starved Toxiproxy and was never tried again: the link stayed
    stalled to the end of the run (docs/benchmarks.md, "load-with-faults, `--cycle 2m`, 30 minutes")."""
    monkeypatch.setattr("chaos.faults.nemesis.RETRY_FIRST", 0.001)
    inj, links, _, _, history = injector()
    link = links.get("gate0-node0")
    remove, failures = link.remove_toxic, [Unanswered("DELETE /proxies/x: timed out")] * 3

    def flaky_remove(name):
        if failures:
            raise failures.pop()
        remove(name)

    link.remove_toxic = flaky_remove
    fault = make_fault("stall", "gate 0 -> node 0", 0, 1, id=7)

    async def go():
        assert await inj.start(fault)
        await inj.heal(fault)

    asyncio.run(go())
    assert link.toxics == {}
    steps = [(v["phase"], v.get("attempt")) for _, f, v in history.records if f == "fault"]
    assert steps == [("start", None), ("heal_retry", 1), ("heal_retry", 2), ("heal_retry", 3), ("heal", None)]
    assert "timed out" in history.records[1][2]["error"] and "errors" not in history.records[-1][2]
    assert inj.heal_retries == 3 and inj.heals_failed == 0


def test_at_the_runs_end_a_heal_that_keeps_failing_is_given_up_and_said_so(monkeypatch):
    monkeypatch.setattr("chaos.faults.nemesis.RETRY_FIRST", 0.001)
    monkeypatch.setattr("chaos.faults.nemesis.PATIENCE_AT_END", 0.05)
    inj, links, _, _, history = injector()
    link = links.get("gate0-node0")

    def dead_api(name):
        raise Unanswered("DELETE: connection refused")

    link.remove_toxic = dead_api

    async def go():
        assert await inj.start(make_fault("stall", "gate 0 -> node 0", 0, 600, id=3))
        await inj.heal_all()

    asyncio.run(go())
    heal = history.records[-1][2]
    assert heal["phase"] == "heal" and "connection refused" in heal["errors"][0]
    assert inj.heals_failed == 1 and inj.heal_retries >= 1


def test_a_toxic_whose_adding_got_no_answer_is_removed_all_the_same():
    """The API timed out, but the server added the toxic after all: undoing the failed fault removes it."""
    inj, links, _, _, history = injector()
    link = links.get("gate0-node0")
    add = link.add_toxic

    def late_add(*args, **kwargs):
        add(*args, **kwargs)
        raise Unanswered("POST /proxies/gate0-node0/toxics: timed out")

    link.add_toxic = late_add
    assert asyncio.run(inj.start(make_fault("stall", "gate 0 -> node 0", 0, 1, id=2))) is False
    assert link.toxics == {} and inj.active == []
    assert history.records[-1][2]["phase"] == "error"
