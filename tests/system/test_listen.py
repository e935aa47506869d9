"""A taken or malformed listen address: every server refuses it in one line and exits non-zero.

Before, gRPC's SO_REUSEPORT let a second ``pushchat node`` (or ``up``) start
on a taken port, and the kernel split new connections between the two.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from tests.system.cli_process import run, running
from system.gate import GateConfig, GateServer
from system.listen import CannotListen
from system.node import NodeConfig, NodeServer

IN_USE = "address already in use"


@pytest.fixture
def taken() -> Iterator[tuple[str, int]]:
    """A running ``pushchat node``, as in a newcomer's first terminal: its address and metrics port."""
    with running("node", "--listen", "127.0.0.1:0", "--metrics-port", "0") as node:
        announce = json.loads(asyncio.run(node.line('"listening"')))
        yield announce["addr"], announce["metrics_port"]


CASES = {
    "node": (["node", "--listen", "{addr}"], "pushchat node: cannot listen on {addr}: " + IN_USE),
    "gate": (["gate", "--listen", "{addr}", "--nodes", "{addr}"], "pushchat gate: cannot listen on {addr}: " + IN_USE),
    "up, node port": (["up", "--node-listen", "{addr}", "--gate-listen", "127.0.0.1:0"],
                      "pushchat up: node cannot listen on {addr}: " + IN_USE),
    "up, gate port": (["up", "--node-listen", "127.0.0.1:0", "--gate-listen", "{addr}"],
                      "pushchat up: gate cannot listen on {addr}: " + IN_USE),
    "node metrics port": (["node", "--listen", "127.0.0.1:0", "--metrics-port", "{metrics}"],
                          "pushchat node: cannot listen on 127.0.0.1:{metrics} (metrics): " + IN_USE),
    "gate metrics port": (["gate", "--listen", "127.0.0.1:0", "--nodes", "{addr}", "--metrics-port", "{metrics}"],
                          "pushchat gate: cannot listen on 127.0.0.1:{metrics} (metrics): " + IN_USE),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_port_in_use_is_refused_in_one_line(taken: tuple[str, int], case: str) -> None:
    addr, metrics = taken
    args, expected = CASES[case]
    result = await run(*(a.format(addr=addr, metrics=metrics) for a in args))
    assert result.code == 1
    assert result.stdout == []  # no "listening" announce, no "pushchat is up"
    [line] = result.stderr
    assert line.startswith(expected.format(addr=addr, metrics=metrics)), line


@pytest.mark.parametrize("listen, reason", [
    ("notahost", "no port (want HOST:PORT"),
    ("127.0.0.1", "no port (want HOST:PORT"),  # gRPC alone would take this as port 443
    ("notahost.invalid:48000", "unknown host 'notahost.invalid'"),
    ("127.0.0.1:99999", "bad port '99999' (want 0-65535)"),  # gRPC alone would bind 34463
    ("::1:48000", "an IPv6 host needs brackets"),
    (":48000", "no host"),
])
async def test_a_bad_listen_address_is_refused_in_one_line_saying_why(listen: str, reason: str) -> None:
    result = await run("node", "--listen", listen)
    assert result.code == 1 and result.stdout == []
    [line] = result.stderr
    assert line.startswith(f"pushchat node: cannot listen on {listen}: {reason}"), line


async def test_an_address_no_interface_has_gets_the_kernels_reason_and_no_grpc_lines() -> None:
    result = await run("gate", "--listen", "192.0.2.1:0", "--nodes", "127.0.0.1:1")  # TEST-NET-1: not ours
    assert result.code == 1
    assert result.stderr == ["pushchat gate: cannot listen on 192.0.2.1:0: cannot assign requested address"]


async def test_in_process_servers_refuse_a_taken_port_on_every_address_of_the_host() -> None:
    first = NodeServer(NodeConfig())
    await first.start()
    try:
        port = first.port
        for listen in (f"127.0.0.1:{port}", f"localhost:{port}"):  # were localhost ::1 too, gRPC would take that alone
            with pytest.raises(CannotListen, match=f"cannot listen on {listen}: {IN_USE}"):
                await NodeServer(NodeConfig(listen=listen)).start()
            with pytest.raises(CannotListen, match=f"cannot listen on {listen}: {IN_USE}"):
                await GateServer(GateConfig(nodes=(first.addr,), listen=listen)).start()
        second = NodeServer(NodeConfig())  # port 0 still picks a free port
        await second.start()
        assert second.port not in (0, port)
        await second.stop(0)
    finally:
        await first.stop(0)
