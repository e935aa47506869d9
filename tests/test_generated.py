"""The committed generated modules must be exactly what protoc makes from proto/."""

from pathlib import Path

import pytest

from system.pb import generate

pytest.importorskip("grpc_tools")


def test_committed_gencode_matches_proto_files(tmp_path: Path) -> None:
    fresh = {p.name: p.read_bytes() for p in generate.generate(tmp_path)}
    committed_dir = generate.ROOT / "system" / "pb"
    committed = {p.name: p.read_bytes() for p in committed_dir.glob("*_pb2*.py*")}
    assert sorted(fresh) == sorted(committed), "generated file set differs: run python -m system.pb.generate"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated code {stale}: run python -m system.pb.generate"


def test_type_urls_use_the_goverse_package_names() -> None:
    from google.protobuf import any_pb2
    from system.pb import chat_pb2, gate_pb2, goverse_pb2

    packed = any_pb2.Any()
    packed.Pack(chat_pb2.Client_NewMessageNotification())
    assert packed.type_url == "type.googleapis.com/chat.Client_NewMessageNotification"
    packed.Pack(gate_pb2.RegisterResponse())
    assert packed.type_url == "type.googleapis.com/gate.RegisterResponse"
    assert goverse_pb2.GateMessage.DESCRIPTOR.full_name == "goverse.GateMessage"


def test_fanout_envelope_is_wire_compatible_with_singular_client_id() -> None:
    """Goverse's first envelope had `string client_id = 1`; ours repeats field 1."""
    from system.pb import goverse_pb2

    env = goverse_pb2.ClientMessageEnvelope(client_ids=["g:1/a"])
    # A singular string field 1 encodes exactly like one element of a repeated string.
    assert env.SerializeToString() == b"\x0a\x05g:1/a"
