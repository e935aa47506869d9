"""The floor under a gate's figures in ``python -m tests.bench.capacity gate --bare``: the least a grpc.aio
server holds for an idle ``Register`` stream, served by ``python -m tests.bench.capacity --serve-bare``."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import grpc
from google.protobuf import any_pb2

from system import listen
from system.grpcopts import Keepalive
from system.pb import gate_pb2, gate_pb2_grpc


class Bare(gate_pb2_grpc.GateServiceServicer):
    """The least a grpc.aio server holds for an idle Register stream: the call, its handler, one future."""

    async def Register(self, request: gate_pb2.Empty, context: Any) -> Any:
        first = any_pb2.Any()
        first.Pack(gate_pb2.RegisterResponse(client_id="bare"))
        yield first
        await asyncio.get_running_loop().create_future()


async def serve_bare() -> None:
    """A bare server with the gate's server options (keepalive, so the clients' pings are answered)."""
    server = grpc.aio.server(options=Keepalive().server_options() + listen.SERVER_OPTIONS)
    gate_pb2_grpc.add_GateServiceServicer_to_server(Bare(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"event": "listening", "service": "bare", "addr": f"127.0.0.1:{port}"}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)
