"""Start-up shared by the node and the gate: bind, metrics, get ready, serve; stop gives every port back."""

from __future__ import annotations

import socket
from typing import Any, Callable

import pytest

from system.gate import GateConfig, GateServer
from system.listen import CannotListen
from system.node import NodeConfig, NodeServer
from system.server import Server
from tests.system.system_harness import capture_logs

SERVERS: dict[str, Callable[..., Server]] = {
    "node": lambda **kw: NodeServer(NodeConfig(**kw)),
    "gate": lambda **kw: GateServer(GateConfig(nodes=("127.0.0.1:1",), **kw)),
}


def free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("kind", sorted(SERVERS))
async def test_a_taken_metrics_port_is_refused_before_the_server_gets_ready(kind: str) -> None:
    with socket.socket() as taken, capture_logs() as logs:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = taken.getsockname()[1]
        server = SERVERS[kind](metrics_port=metrics_port)
        with pytest.raises(CannotListen, match=rf"cannot listen on 127.0.0.1:{metrics_port} \(metrics\)"):
            await server.start()
    assert not logs.events("store_opened") and not logs.events("node_stream_up")  # it never got that far


@pytest.mark.parametrize("kind", sorted(SERVERS))
async def test_a_started_server_serves_its_metrics_and_advertises_its_bound_address(kind: str) -> None:
    options: dict[str, Any] = {"metrics_port": 0}
    server = SERVERS[kind](**options)
    await server.start()
    try:
        assert server.addr == f"127.0.0.1:{server.port}" == server.advertise
        assert server.metrics.port and not free(server.metrics.port) and not free(server.port)
    finally:
        await server.stop(0)
    assert free(server.port) and free(server.metrics.port)


@pytest.mark.parametrize("push_to_sender", [False, True])
async def test_a_node_says_at_start_whether_its_rooms_push_to_senders(push_to_sender: bool) -> None:
    """The chaos checker takes the run's mode from this line (chaos/checker/rules/echo.py)."""
    server = NodeServer(NodeConfig(store="memory", push_to_sender=push_to_sender))
    with capture_logs() as logs:
        await server.start()
        await server.stop(0)
    [line] = logs.events("room_config")
    assert line["push_to_sender"] is push_to_sender and line["level"] == "INFO"


async def test_a_call_whose_deadline_passed_while_it_queued_on_the_node_is_not_run() -> None:
    """Under overload, calls wait in the node's queue past their callers' deadlines; each caller asks again.
    Running the abandoned ones too is congestion collapse (2,000 members, docs/benchmarks.md): they are refused."""
    import grpc
    from google.protobuf import any_pb2
    from system.node import NodeConfig, NodeServer, NodeServicer
    from system.objects import STORED_KEY
    from system.pb import chat_pb2, goverse_pb2

    class Late:
        aborted: tuple = ()

        def time_remaining(self) -> float:
            return -0.5

        def invocation_metadata(self) -> tuple:
            return ()

        def peer(self) -> str:
            return "ipv4:127.0.0.1:1"

        def auth_context(self) -> dict:
            return {}

        async def abort(self, code, details, trailing=()):  # noqa: ANN001
            self.aborted = (code, dict(trailing))
            raise grpc.aio.AbortError()

    node = NodeServer(NodeConfig(store="memory"))
    await node.start()
    try:
        called = []
        node.call = lambda *a, **k: called.append(a)  # type: ignore[method-assign]
        packed = any_pb2.Any()
        packed.Pack(chat_pb2.ChatRoom_MembersRequest())
        late = Late()
        try:
            await NodeServicer(node).CallObject(goverse_pb2.CallObjectRequest(id="ChatRoom-x", method="Members",
                                                                            type="ChatRoom", request=packed), late)
        except grpc.aio.AbortError:
            pass
        assert late.aborted == (grpc.StatusCode.DEADLINE_EXCEEDED, {STORED_KEY: "no"}) and called == []
    finally:
        await node.stop()
