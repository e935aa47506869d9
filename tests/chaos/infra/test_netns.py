"""A run's own networks: namespaces and nftables made for real, removed however the run ends, and faults that drop
what they say (one direction only, all of it, or a share)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from chaos.infra import netns
from chaos.faults.net_kinds import table_name
from chaos.infra.netplan import NetPlan, drop_table, free_subnet, link_matches, parse_namespace, peer_matches


def _usable() -> str | None:
    try:
        netns.preflight()
    except netns.NetworkUnavailable as exc:
        return str(exc)
    return None


REASON = _usable()
needs_netns = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def test_plan_names_carry_the_run_and_fit_the_kernel() -> None:
    plan = NetPlan(7, 4242, ("node0", "node1", "gate0"))
    assert plan.namespace("gate0") == "pcn7-4242-gate0"
    assert parse_namespace(plan.namespace("gate0")) == (7, 4242, "gate0")
    assert parse_namespace("someone-else") is None
    assert [plan.addr(p) for p in plan.parts] == ["10.213.7.1", "10.213.7.2", "10.213.7.3"]
    assert plan.host_addr == "10.213.7.254"
    links = [c[3] for c in plan.setup() if c[1:3] == ["link", "add"]] + [plan.host_link]
    assert all(len(name) <= 15 for name in links)
    assert free_subnet({1, 2, 4}) == 3
    with pytest.raises(ValueError):
        NetPlan(0, 1, ("node0",))


def test_rules_say_which_direction() -> None:
    assert link_matches("10.213.1.254", 4000, "downstream") == {"input": "ip saddr 10.213.1.254 tcp sport 4000"}
    assert set(link_matches("10.213.1.254", 4000, "both")) == {"input", "output"}
    script = drop_table("t1", peer_matches("10.213.1.2", "upstream"), percent=20)
    assert "hook output" in script and "numgen random mod 100 < 20 counter drop" in script and "hook input" not in script


def _ours() -> tuple[list[str], list[str]]:
    return netns.leftovers()


def _mine(pid: int) -> list[str]:
    spaces, _ = _ours()
    return [ns for ns in spaces if parse_namespace(ns)[1] == pid]  # type: ignore[index]


def _probe(net: netns.Network, src: str, dst: str, port: int) -> bool:
    """Does a UDP datagram from ``src``'s namespace reach a listener in ``dst``'s?

    The listener looks only once the sender has finished: a datagram that got through is in its buffer by then
    (the bridge is in this kernel), however slowly either process started."""
    listener = subprocess.Popen(
        [*net.exec_argv(dst), sys.executable, "-c", textwrap.dedent(f"""
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("{net.addr(dst)}", {port}))
            print("ready", flush=True); sys.stdin.readline(); s.settimeout(0.5)
            try:
                s.recvfrom(100); print("got", flush=True)
            except socket.timeout:
                print("nothing", flush=True)
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert listener.stdout is not None and listener.stdin is not None
    assert listener.stdout.readline().strip() == "ready"
    send = (f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"for _ in range(5):\n"
            f"    try: s.sendto(b'x', ('{net.addr(dst)}', {port}))\n"
            f"    except PermissionError: pass  # an output rule refuses it: not sent\n")
    subprocess.run([*net.exec_argv(src), sys.executable, "-c", send], check=True, timeout=30)
    listener.stdin.write("look\n")
    listener.stdin.flush()
    out = listener.stdout.readline().strip()
    listener.wait(timeout=10)
    return out == "got"


@needs_netns
def test_servers_reach_each_other_and_the_harness_and_nothing_is_left() -> None:
    with netns.Network(["node0", "gate0"]) as net:
        host_link = net.opened.host_link
        assert len(_mine(os.getpid())) == 3 and host_link in _ours()[1]  # two parts and the hub
        assert _probe(net, "gate0", "node0", 9000)
        # the harness's side reaches a namespace
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((net.host_addr, 0))
            s.connect((net.addr("node0"), 9))
    assert _mine(os.getpid()) == []
    assert host_link not in _ours()[1]


@needs_netns
def test_drop_one_way_drops_that_direction_only() -> None:
    with netns.Network(["node0", "gate0"]) as net:
        # node0 receives nothing from gate0; node0 can still reach gate0.
        net.load("node0", drop_table("pushchat_fault1", peer_matches(net.addr("gate0"), "downstream")),
                 "pushchat_fault1")
        assert not _probe(net, "gate0", "node0", 9001)
        assert _probe(net, "node0", "gate0", 9002)
        assert net.unload("node0", "pushchat_fault1") >= 1  # the probe's datagrams, counted
        assert net.tables("node0") == []
        assert _probe(net, "gate0", "node0", 9003)


@needs_netns
def test_a_run_that_fails_leaves_nothing() -> None:
    with pytest.raises(ZeroDivisionError):
        with netns.Network(["node0", "gate0"]) as net:
            net.load("node0", drop_table("pushchat_fault2", peer_matches(net.addr("gate0"), "both")),
                     "pushchat_fault2")
            host_link = net.opened.host_link
            1 / 0
    spaces, links = _ours()
    assert _mine(os.getpid()) == [] and host_link not in links


INTERRUPTED = """
import os, sys, time
from chaos.infra import netns
with netns.Network(["node0", "gate0"]) as net:
    print(net.opened.host_link, flush=True)
    time.sleep(60)
"""


@needs_netns
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_an_interrupted_run_leaves_nothing(how: signal.Signals) -> None:
    """Ctrl-C and SIGTERM unwind the run; after SIGKILL the next run's sweep removes what it left."""
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    host_link = proc.stdout.readline().strip()
    assert host_link.startswith("pcnh"), proc.stderr.read() if proc.stderr else ""
    assert len(_mine(proc.pid)) == 3
    proc.send_signal(how)
    proc.wait(timeout=20)
    if how == signal.SIGKILL:
        assert len(_mine(proc.pid)) == 3  # nobody removed them: the sweep must
        netns.sweep()
    assert _mine(proc.pid) == [] and host_link not in _ours()[1]


@needs_netns
def test_one_fault_on_two_links_of_one_namespace_heals_each_alone() -> None:
    """A gate dials every node: a fault on all gate links loads two tables in its namespace, and each heals."""
    with netns.Network(["node0", "node1", "gate0"]) as net:
        tables = {node: table_name(4, f"gate0-{node}") for node in ("node0", "node1")}
        assert len(set(tables.values())) == 2
        for node, table in tables.items():
            net.load("gate0", drop_table(table, peer_matches(net.addr(node), "both")), table)
        assert not _probe(net, "gate0", "node1", 9004)
        net.unload("gate0", tables["node0"])
        assert net.tables("gate0") == [tables["node1"]]
        assert _probe(net, "gate0", "node0", 9005) and not _probe(net, "gate0", "node1", 9006)
        net.unload("gate0", tables["node1"])
        assert net.tables("gate0") == [] and _probe(net, "gate0", "node1", 9007)
