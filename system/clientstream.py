"""A gate's client streams on the wire: ``Register`` writes pushes the gate serialised once.

A push comes from the node as one envelope for many clients; the gate
serialises its ``Any`` once (:meth:`system.gate.ClientRouter.deliver`) and
queues the same bytes for every client. ``Register`` is therefore served
with no response serialiser (:func:`add_gate_service`): gRPC writes the bytes
as they are, and what a client reads is the ``Any`` it always read.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from google.protobuf import any_pb2, message_factory

from system.faultpoints import Event, FaultPoints, PushStream
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc
from system.push import Mailbox


class TokenExpired(Exception):
    """The token a Register stream was opened with has expired."""


async def next_push(box: Mailbox[bytes] | PushStream, expires: float | None) -> bytes | None:
    """The stream's next item; :class:`TokenExpired` once its token's time is up (a queue get is safe to cancel)."""
    if expires is None:
        return await box.get()
    left = expires - time.time()
    if left <= 0:
        raise TokenExpired()
    try:
        async with asyncio.timeout(left):
            return await box.get()
    except asyncio.TimeoutError:
        raise TokenExpired() from None


def registered(client_id: str) -> bytes:
    """A Register stream's first message, serialised (made here, so that the stream's frame does not keep it)."""
    first = any_pb2.Any()
    first.Pack(gate_pb2.RegisterResponse(client_id=client_id))
    return first.SerializeToString()


def shaped_pushes(faults: FaultPoints, box: Mailbox[bytes]) -> PushStream[bytes] | None:
    """The client's pushes as the push faults shape them; None when fault points are off (read ``box``)."""
    if not faults.enabled:
        return None
    return faults.push_stream(box.get, lambda item: push_event(item, box.name, faults.user(box.name)))


def push_event(item: bytes, client_id: str, user: str) -> Event:
    """A push on a gate's stream to one client (serialised, as queued), as the push faults see it."""
    note = chat_pb2.Client_NewMessageNotification()
    room, seq = ("", 0)
    if any_pb2.Any.FromString(item).Unpack(note):
        room, seq = note.message.room_name, note.message.seq
    return Event("push", frozenset({user} - {""}), room=room, detail={"seq": seq, "client_id": client_id,
                                                                        **({"user": user} if user else {})})


def add_gate_service(servicer: gate_pb2_grpc.GateServiceServicer, server: grpc.aio.Server) -> None:
    """Serve ``gate.GateService`` as the generated ``add_GateServiceServicer_to_server`` does, except that
    ``Register`` has no response serialiser: it yields the bytes of an ``Any`` that the gate serialised once
    per push for all its clients (:meth:`system.gate.ClientRouter.deliver`), and gRPC writes them as they are. The
    wire is the same: clients read an ``Any`` as before."""
    service = gate_pb2.DESCRIPTOR.services_by_name["GateService"]
    handlers = {}
    for method in service.methods:
        if method.client_streaming:
            raise NotImplementedError(f"{method.full_name}: client streaming is not served here")
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        serialise = None if method.name == "Register" else response.SerializeToString
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(getattr(servicer, method.name), request_deserializer=request.FromString,
                                     response_serializer=serialise)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)
