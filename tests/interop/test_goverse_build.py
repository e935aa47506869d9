"""Goverse built from its archive by ``pushchat goverse build`` runs: two raw gRPC clients chat through its gate.

The clients use our ``system.pb`` gate and chat stubs: the packages (``gate``, ``chat``) and field numbers are
Goverse's, so the wire is the same. Goverse's node pushes a message to every member, the sender included.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2

from chaos.infra import goverse_build
from chaos.infra.goverse_cluster import goverse_cluster
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc

SOURCE = goverse_build.default_source()
pytestmark = pytest.mark.skipif(SOURCE is None or not SOURCE.is_file(), reason="no Goverse source archive (shared/third_party/goverse/"
                                f"{goverse_build.ARCHIVE_NAME} beside the checkout, or ${goverse_build.ARCHIVE_ENV})")


def test_a_bridge_keeps_an_import_still_in_use() -> None:
    """Only an import a bridge left unused is dropped: one the file still uses stays (and fails loudly in go build)."""
    go = ('import (\n\t"google.golang.org/grpc"\n\t"google.golang.org/grpc/credentials/insecure"\n)\n'
          'var c = insecure.NewCredentials\nfunc f() { grpc.NewClient(a) }\n')
    text, made = goverse_build.bridge_source(go)
    assert "grpc.Dial(a)" in text and '"google.golang.org/grpc/credentials/insecure"' in text and sum(made) == 1


@pytest.fixture(scope="module")
def binaries() -> goverse_build.Binaries:
    assert SOURCE is not None
    missing = goverse_build.check_prerequisites()
    if missing:  # the archive is here, so the build must be possible: say what to install
        pytest.fail(goverse_build.describe_missing(missing))
    return goverse_build.build(SOURCE)


@pytest.fixture
def goverse_gate(binaries: goverse_build.Binaries, tmp_path: Path) -> Iterator[str]:
    """etcd, Goverse's node and gate, up; the gate's address."""
    with goverse_cluster(binaries, tmp_path) as parts:
        yield parts.gate


class RawClient:
    """A client with nothing but the generated stubs: Register stream read in a thread, calls through the gate."""

    def __init__(self, gate: str, user: str) -> None:
        self.user = user
        self.channel = grpc.insecure_channel(gate)
        self.stub = gate_pb2_grpc.GateServiceStub(self.channel)
        self.stream = self.stub.Register(gate_pb2.Empty())
        first = gate_pb2.RegisterResponse()
        assert next(self.stream).Unpack(first), "the first item of Register is not a RegisterResponse"
        self.client_id = first.client_id
        self.pushed: queue.Queue[chat_pb2.Client_NewMessageNotification] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for item in self.stream:
                note = chat_pb2.Client_NewMessageNotification()
                if item.Unpack(note):
                    self.pushed.put(note)
        except grpc.RpcError:
            pass  # the stream ends when the channel closes

    def call(self, method: str, request: object) -> None:
        packed = any_pb2.Any()
        packed.Pack(request)  # type: ignore[arg-type]
        self.stub.CallObject(gate_pb2.CallObjectRequest(client_id=self.client_id, type="ChatRoom",
                                                        id="ChatRoom-General", method=method, request=packed),
                             timeout=10)

    def close(self) -> None:
        self.stream.cancel()
        self.channel.close()


def _next_push(client: RawClient, deadline: float) -> chat_pb2.Client_NewMessageNotification:
    try:
        return client.pushed.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise AssertionError(f"{client.user} got no push") from None


@pytest.mark.timeout(900)  # a first build on a busy 2-core machine takes minutes; cached, it is instant
def test_goverse_pushes_one_clients_message_to_the_other(goverse_gate: str) -> None:
    alice, bob = RawClient(goverse_gate, "alice"), RawClient(goverse_gate, "bob")
    try:
        assert alice.client_id != bob.client_id
        for client in (alice, bob):
            client.call("Join", chat_pb2.ChatRoom_JoinRequest(user_name=client.user, client_id=client.client_id))
        alice.call("SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(user_name="alice", message="hi from Go"))
        deadline = time.monotonic() + 10
        got = _next_push(bob, deadline).message
        assert (got.user_name, got.message) == ("alice", "hi from Go")
        echoed = _next_push(alice, deadline).message  # Goverse pushes to the sender too ("including sender")
        assert (echoed.user_name, echoed.message) == ("alice", "hi from Go")
    finally:
        alice.close()
        bob.close()
