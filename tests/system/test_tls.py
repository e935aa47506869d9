"""TLS on both hops, and mutual TLS between gate and node, end to end on real sockets."""

from __future__ import annotations

import grpc
import pytest

from chaos.infra.certs import Authority
from system.client import ChatClient
from system.gate import GateConfig, GateServer
from system.pb import goverse_pb2, goverse_pb2_grpc
from system.tls import ClientTls, ServerTls
from tests.system.system_harness import cluster, wait_until

CA = Authority()
NODE, GATE, GATE_AS_CLIENT = CA.issue("node"), CA.issue("gate"), CA.issue("gate", client=True)


async def test_clients_chat_over_tls_through_a_gate_that_reaches_its_node_over_tls() -> None:
    node = {"tls": ServerTls(NODE.cert, NODE.key)}
    gate = {"tls": ServerTls(GATE.cert, GATE.key), "node_tls": ClientTls(CA.cert)}
    async with cluster(node=node, gate=gate) as c:
        alice, _ = await c.client("alice", tls=ClientTls(CA.cert))
        bob, bob_seen = await c.client("bob", tls=ClientTls(CA.cert))
        for client in (alice, bob):
            await client.join("General")
        await alice.send("General", "over TLS")
        await wait_until(lambda: bob_seen.texts("push") == ["over TLS"], 5.0, "bob's push over TLS")


async def test_a_client_that_does_not_trust_the_gates_certificate_cannot_register() -> None:
    async with cluster(gate={"tls": ServerTls(GATE.cert, GATE.key)}) as c:
        for tls in (None, ClientTls(Authority("another CA").cert)):
            client = ChatClient(c.gates[0].addr, "eve", tls=tls, call_timeout=2.0)
            try:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await client.connect()
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            finally:
                await client.close()


async def test_mutual_tls_lets_only_a_gate_with_a_certificate_reach_the_node() -> None:
    node = {"tls": ServerTls(NODE.cert, NODE.key, client_ca=CA.cert, require_client_cert=True)}
    gate = {"node_tls": ClientTls(CA.cert, GATE_AS_CLIENT.cert, GATE_AS_CLIENT.key)}
    async with cluster(node=node, gate=gate) as c:
        alice, _ = await c.client("alice")
        await alice.join("General")
        assert (await alice.send("General", "through mutual TLS")).seq == 1
        stranger = GateServer(GateConfig(nodes=(c.nodes[0].addr,), node_tls=ClientTls(CA.cert)))  # no certificate
        await stranger.start()
        try:
            with pytest.raises(TimeoutError):
                await stranger.wait_ready(1.5)
        finally:
            await stranger.stop(0.2)
        async with grpc.aio.secure_channel(c.nodes[0].addr, ClientTls(CA.cert).credentials()) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await goverse_pb2_grpc.GoverseStub(channel).ListObjects(goverse_pb2.Empty(), timeout=3.0)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_flags_are_checked_before_anything_starts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="both --tls-cert and --tls-key"):
        ServerTls.from_files(str(tmp_path / "c.pem"), None)
    with pytest.raises(ValueError, match="needs --tls-ca"):
        ServerTls(NODE.cert, NODE.key, require_client_cert=True)
    (tmp_path / "bad.pem").write_text("hello")
    with pytest.raises(ValueError, match="not a PEM file"):
        ClientTls.from_files(str(tmp_path / "bad.pem"))
    with pytest.raises(ValueError, match="cannot read --tls-ca"):
        ClientTls.from_files(str(tmp_path / "missing.pem"))
