"""gRPC core's own log lines stay off the user's screen unless asked for with ``pushchat --verbose``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import any_pb2

from tests.system.cli_process import GRPC_CORE_LINE, running
from tests.system.system_harness import wait_until
from system.pb import gate_pb2, gate_pb2_grpc


class StrictGate(gate_pb2_grpc.GateServiceServicer):
    """A gate with gRPC's default ping policy: our client's 1 s keepalive earns a GOAWAY
    ``too_many_pings``, which gRPC core reports on stderr as ``I… Got goaway [11] …``."""

    def __init__(self) -> None:
        self.registrations = 0

    async def Register(self, request: gate_pb2.Empty, context: grpc.aio.ServicerContext) -> AsyncIterator[any_pb2.Any]:
        self.registrations += 1
        first = any_pb2.Any()
        first.Pack(gate_pb2.RegisterResponse(client_id="127.0.0.1:1/strict"))
        yield first
        await asyncio.Event().wait()


@pytest.mark.parametrize("verbose", [False, True])
async def test_the_client_shows_grpc_core_lines_only_when_verbose(verbose: bool) -> None:
    server, gate = grpc.aio.server(), StrictGate()
    gate_pb2_grpc.add_GateServiceServicer_to_server(gate, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        with running("client", "--server", f"127.0.0.1:{port}", "--user", "bob", verbose=verbose) as client:
            await wait_until(lambda: gate.registrations >= 2, 30.0, "the client's re-registration after the GOAWAY")
            client.stop()
    finally:
        await server.stop(0)
    core = [line for line in client.errors if re.match(GRPC_CORE_LINE, line)]
    if verbose:
        assert any("too_many_pings" in line for line in core), client.errors
    else:
        assert core == [], core
