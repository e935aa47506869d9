"""Planted bugs in pushes: failures unlogged, uncounted or vanished; a send failed by its push;
pushes to the wrong member or room.

Each registers itself with ``@mutant`` (:mod:`tests.mutants.base`) on import; :mod:`tests.mutants.registry`
imports this module.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Callable

from tests.mutants.base import every, mutant


# -- push failures: unlogged, uncounted, vanished --------------------------------------------------------------
@mutant("gate_drop_unlogged", "unlogged push failure", "the gate counts a full client buffer's drop but logs "
        "nothing", ("stalled-client", "crash-after-stall"))
def _gate_drop_unlogged() -> None:
    from system import contract
    from system.gate import ClientRouter
    drop = ClientRouter._drop

    def _drop(self: Any, client_id: str, reason: str) -> None:
        if reason == contract.CLIENT_BUFFER_FULL:
            self.metrics.dropped.labels(reason=reason).inc()
            return
        drop(self, client_id, reason)

    ClientRouter._drop = _drop


@mutant("node_failure_uncounted", "uncounted push failure", "the node logs a push failure but does not count it",
        ("gate-node-link-drop",))
def _node_failure_uncounted() -> None:
    from system import log
    from system.node import NodeServer

    def _push_failed(self: Any, err: Any) -> None:
        meta = err.meta
        log.event(log.get("node"), logging.WARNING, "push_failed", room=meta.room,
                  user=meta.users.get(err.client_id, ""), client_id=err.client_id, reason=err.reason, seq=meta.seq,
                  sender=meta.sender, error=err.detail)

    NodeServer._push_failed = _push_failed


@mutant("gate_discards_silently", "unrecorded push failure", "the gate skips every 20th client of an envelope: "
        "no queue, no log, no counter (polls repair it)", ("baseline",), quick=True)
def _gate_discards_silently() -> None:
    from system import contract
    from system.gate import ClientRouter
    skip = every(20)

    def deliver(self: Any, envelope: Any) -> int:
        ids = list(envelope.client_ids)
        self.metrics.attempted.inc(len(ids))
        payload = envelope.message.SerializeToString()
        delivered = 0
        for cid in ids:
            box = self._clients.get(cid)
            if skip():
                continue
            if box is None:
                self._drop(cid, contract.CLIENT_NOT_FOUND)
            elif box.closed:
                self._drop(cid, contract.CLIENT_DISCONNECTED)
            elif not box.offer(payload):
                self._drop(cid, contract.CLIENT_BUFFER_FULL)
            else:
                delivered += 1
        self.metrics.delivered.inc(delivered)
        return delivered

    ClientRouter.deliver = deliver


@mutant("node_discards_silently", "unrecorded push failure", "the node drops every 20th push before its gate "
        "queue, with no failure reported (polls repair it)", ("baseline",))
def _node_discards_silently() -> None:
    from system.push import PushHub
    push = PushHub.push_message_to_clients
    skip = every(20)

    def push_message_to_clients(self: Any, client_ids: Any, message: Any, meta: Any = None) -> list:
        if skip():
            if self.metrics:
                self.metrics.attempted.inc(len(list(client_ids)))
            return []
        return push(self, client_ids, message, meta)

    PushHub.push_message_to_clients = push_message_to_clients


@mutant("client_push_twice", "unrecorded push", "the client handles every 10th push twice (the display "
        "deduplicates, so only the books show it)", ("baseline",), quick=True)
def _client_push_twice() -> None:
    from system.client.catchup import CatchUp
    on_payload = CatchUp.on_payload
    twice = every(10)

    def _on_payload(self: Any, item: Any) -> None:
        on_payload(self, item)
        if twice():
            on_payload(self, item)

    CatchUp.on_payload = _on_payload


# -- a send failed by a push -----------------------------------------------------------------------------------
@mutant("send_failed_by_push", "send failed by a push", "the room fails a send (INTERNAL) when its push failed",
        ("gate-node-link-drop",))
def _send_failed_by_push() -> None:
    from system import log
    from system.pb import chat_pb2
    from system.push import PushMeta
    from system.room import ChatRoom

    def _durable(self: Any, transcript: Any, batch: Any) -> None:
        if transcript is not self.transcript:
            return
        for msg in transcript.commit(batch.messages):
            log.event(log.get("room"), logging.INFO, "message_stored", room=self.name, seq=msg.seq,
                      user=msg.user_name, client_msg_id=msg.client_msg_id, duplicate=False)
            recipients = {cid: name for name, cid in self.members.items() if name != msg.user_name and cid}
            if recipients:
                meta = PushMeta(room=self.name, seq=msg.seq, sender=msg.user_name, users=recipients)
                note = chat_pb2.Client_NewMessageNotification(message=msg, store_epoch=self.store.epoch)
                errors = self.port.push(list(recipients), note, meta)
                if errors:
                    self._mutant_push_error = errors[0]

    settled = ChatRoom._settled

    async def _settled(self: Any, done: Any, reply: Any) -> Any:
        answer = await settled(self, done, reply)
        error = getattr(self, "_mutant_push_error", None)
        if error is not None:
            self._mutant_push_error = None
            raise error
        return answer

    ChatRoom._durable, ChatRoom._settled = _durable, _settled


def reopened_streams(lossy: bool) -> None:
    """The gate's RegisterGate calls, wrapped from a node connection's second stream on; ``lossy``: such a
    stream's reads skip every other push envelope, before anything in the gate has seen it."""
    import grpc
    from system.pb import goverse_pb2_grpc
    init = goverse_pb2_grpc.GoverseStub.__init__

    class Reopened:
        def __init__(self, call: Any) -> None:
            self.call, self.skip = call, every(2)

        async def read(self) -> Any:
            while True:
                msg = await self.call.read()
                if not (lossy and msg is not grpc.aio.EOF and msg.HasField("client_message") and self.skip()):
                    return msg

        def __getattr__(self, name: str) -> Any:
            return getattr(self.call, name)

    def __init__(self: Any, channel: Any) -> None:
        init(self, channel)
        register, opened = self.RegisterGate, itertools.count(1)
        self.RegisterGate = lambda *a, **kw: Reopened(register(*a, **kw)) if next(opened) > 1 else register(*a, **kw)

    goverse_pb2_grpc.GoverseStub.__init__ = __init__


@mutant("gate_loses_after_relink", "push lost between node and gate", "once a node link comes back, the gate "
        "discards every other push envelope from it before any counter sees it (polls repair it)",
        ("gate-node-link-drop", "node-kill-restart"))
def _gate_loses_after_relink() -> None:
    reopened_streams(lossy=True)


# -- pushes to the wrong member or room ------------------------------------------------------------------------
@mutant("push_echo", "echo to the sender", "the room pushes every message back to its sender too, though the node "
        "runs without --push-to-sender", ("baseline",), quick=True)
def _push_echo() -> None:
    import dataclasses
    from system.room import ChatRoom
    durable = ChatRoom._durable

    def _durable(self: Any, transcript: Any, batch: Any) -> None:
        config = self.config
        self.config = dataclasses.replace(config, push_to_sender=True)
        try:
            durable(self, transcript, batch)
        finally:
            self.config = config

    ChatRoom._durable = _durable


def restamping(name_for: Callable[[Any, Any], str]) -> None:
    """Rooms push a copy of each message note whose ``room_name`` is ``name_for(room, note)``."""
    from system.room import ChatRoom
    durable = ChatRoom._durable

    class Restamped:
        def __init__(self, room: Any, port: Any) -> None:
            self.room, self.port = room, port

        def push(self, client_ids: list, message: Any, meta: Any) -> list:
            if hasattr(message, "store_epoch") and message.HasField("message"):
                copy = type(message)()
                copy.CopyFrom(message)
                copy.message.room_name = name_for(self.room, message)
                message = copy
            return self.port.push(client_ids, message, meta)

    def _durable(self: Any, transcript: Any, batch: Any) -> None:
        port = self.port
        self.port = Restamped(self, port)
        try:
            durable(self, transcript, batch)
        finally:
            self.port = port

    ChatRoom._durable = _durable


@mutant("push_misfiled", "push filed under the wrong room", "every 4th message is pushed under the name of the room "
        "that pushed before it on the node (a stale variable)", ("duplicate-pushes", "flaky-rpcs"))
def _push_misfiled() -> None:
    previous = [""]
    stale = every(4)

    def name_for(room: Any, note: Any) -> str:
        name = previous[0] if previous[0] and stale() else note.message.room_name
        previous[0] = room.name
        return name

    restamping(name_for)
