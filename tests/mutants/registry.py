"""The planted bugs: one small, realistic bug each, in the system or the client, and the scenarios that must catch it.

A mutant is applied by monkeypatching at process start (``tests/mutants/site/sitecustomize.py``,
on ``PYTHONPATH`` only when the runner sets ``PUSHCHAT_MUTANT``), in the chaos runner (whose
workload clients are the client library) and in every node and gate it spawns. Nothing here is
importable from an installed pushchat: ``tests/`` is not shipped, and no flag a user sees reaches it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Mutant:
    name: str
    promise: str                  # the bug class, as the checker's promises name it
    what: str                     # the planted bug, in a few words
    scenarios: tuple[str, ...]    # the scenarios that should catch it (run in this order)
    apply: Callable[[], None]
    quick: bool = False           # in the suite's quick subset (baseline, short)


MUTANTS: list[Mutant] = []


def mutant(name: str, promise: str, what: str, scenarios: tuple[str, ...], quick: bool = False
           ) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(apply: Callable[[], None]) -> Callable[[], None]:
        MUTANTS.append(Mutant(name, promise, what, scenarios, apply, quick))
        return apply
    return register


def every(n: int) -> Callable[[], bool]:
    """True on every ``n``-th call (deterministic, so a mutant bites at a steady rate)."""
    counter = itertools.count(1)
    return lambda: next(counter) % n == 0


# -- messages: lost, duplicated, reordered, phantom ----------------------------------------------------------
@mutant("lost_message", "lost", "the room acknowledges every 7th message but neither pushes it nor returns it "
        "to polls", ("baseline",), quick=True)
def _lost_message() -> None:
    from system.room import ChatRoom
    durable, recent = ChatRoom._durable, ChatRoom.GetRecentMessages

    class Forgetful:
        def __init__(self, port: Any) -> None:
            self.port = port

        def push(self, client_ids: list, message: Any, meta: Any) -> list:
            return [] if meta.seq % 7 == 0 else self.port.push(client_ids, message, meta)

    def _durable(self: Any, transcript: Any, batch: Any) -> None:
        port, self.port = self.port, Forgetful(self.port)
        try:
            durable(self, transcript, batch)
        finally:
            self.port = port

    async def get_recent(self: Any, request: Any, call: Any) -> Any:
        reply = await recent(self, request, call)
        keep = [m for m in reply.messages if m.seq % 7]
        del reply.messages[:]
        reply.messages.extend(keep)
        return reply

    ChatRoom._durable = _durable
    _rewrap(ChatRoom, "GetRecentMessages", get_recent)


@mutant("duplicate_display", "duplicated", "the client shows every 10th pushed message twice", ("baseline",))
def _duplicate_display() -> None:
    from system.client.catchup import CatchUp
    show = CatchUp._show

    def _show(self: Any, view: Any, shown: list) -> None:
        show(self, view, shown)
        for msg, source in shown:
            if source == "push" and msg.seq % 10 == 0:
                self.observers.on_display(view.name, msg, source)

    CatchUp._show = _show


@mutant("reordered_display", "reordered", "the client holds every 10th message back and shows it after the next "
        "one", ("baseline",))
def _reordered_display() -> None:
    from system.client.catchup import CatchUp
    show = CatchUp._show
    held: dict[str, list] = {}

    def _show(self: Any, view: Any, shown: list) -> None:
        out = []
        for item in shown:
            out.append(item)
            if view.name in held:
                out.append(held.pop(view.name))
            elif item[0].seq % 10 == 5:
                held[view.name] = out.pop()
        show(self, view, out)

    CatchUp._show = _show


@mutant("phantom_message", "phantom", "the client shows a message nobody sent after every 10th push", ("baseline",),
        quick=True)
def _phantom_message() -> None:
    from system.client.catchup import CatchUp
    show = CatchUp._show

    def _show(self: Any, view: Any, shown: list) -> None:
        show(self, view, shown)
        for msg, source in shown:
            if source == "push" and msg.seq % 10 == 0:
                fake = type(msg)()
                fake.CopyFrom(msg)
                fake.client_msg_id = f"phantom-{msg.seq}"
                self.observers.on_display(view.name, fake, source)

    CatchUp._show = _show


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


def _reopened_streams(lossy: bool) -> None:
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
    _reopened_streams(lossy=True)


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


def _restamping(name_for: Callable[[Any, Any], str]) -> None:
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

    _restamping(name_for)


# -- recovery, gaps, cursors ----------------------------------------------------------------------------------
@mutant("skip_recovery_poll", "skipped recovery", "after a reconnection the client re-joins but does not poll",
        ("link-drop-after-last-send", "client-stream-drop"))
def _skip_recovery_poll() -> None:
    from system.client.catchup import CatchUp

    async def recover(self: Any) -> int:
        for view in [v for v in self.rooms.values() if v.joined]:
            await self._rejoin(view)
        return 0

    CatchUp.recover = recover


@mutant("skip_gap_poll", "skipped gap handling", "the client never polls to fill a gap behind a held push",
        ("reordered-pushes",))
def _skip_gap_poll() -> None:
    from system.client.catchup import CatchUp
    CatchUp._settle = lambda self, view: None


@mutant("cursor_off_by_one", "wrong cursor handling", "the client polls after cursor + 1, skipping the message "
        "right after its cursor", ("client-stream-drop",))
def _cursor_off_by_one() -> None:
    from system.client.roomview import RoomView
    RoomView.poll_after = lambda self: self.cursor + 1


def first_page_only(cut: bool = True) -> None:
    """The client's polls stop after their first page: every GetRecentMessages reply says there is no more
    (``cut=False``: the same wrapping, the reply unchanged, a control)."""
    from system.client.calls import Calls
    call = Calls.call

    async def _call(self: Any, type_: str, object_id: str, method: str, request: Callable[[], Any],
                    reply_types: Any, budget: Any, failures: Any = None) -> Any:
        reply = await call(self, type_, object_id, method, request, reply_types, budget, failures)
        if cut and method == "GetRecentMessages":
            reply.has_more = False
        return reply

    Calls.call = _call


@mutant("recovery_first_page", "recovery reads one page", "the client's recovery and polls read only the first "
        "page of what they missed", ("member-away-pages",))
def _recovery_first_page() -> None:
    first_page_only()


def _marks(back: bool) -> None:
    """The room's ``MarkRead`` wrapped; ``back``: a mark behind the reader's position moves it back (the room
    forgets the position just before the mark, so the mark is stored and answered as a step forward)."""
    from system.room import ChatRoom, speaker
    mark = ChatRoom.MarkRead

    async def mark_read(self: Any, request: Any, call: Any) -> Any:
        user = speaker(request.user_name, call)
        if back and 0 < request.seq < self.presence.reads.get(user, 0):
            self.presence.reads[user] = request.seq - 1
        return await mark(self, request, call)

    _rewrap(ChatRoom, "MarkRead", mark_read)


@mutant("read_goes_back", "read position goes back", "a MarkRead behind the reader's position moves it back",
        ("member-away-pages",))
def _read_goes_back() -> None:
    _marks(back=True)


def _typing_timers(expire: bool) -> None:
    """The client's "typing" notes wrapped; ``expire=False``: the timer that clears an indicator is cancelled,
    so it shows until the typist's next message (which a typist that never sends never clears)."""
    from system.client.presence import PresenceTracker
    typing = PresenceTracker._typing

    def _typing(self: Any, note: Any) -> None:
        typing(self, note)
        if not expire:
            handle = self._timers.pop((note.room_name, note.user_name), None)
            if handle is not None:
                handle.cancel()

    PresenceTracker._typing = _typing


@mutant("typing_never_expires", "typing never expires", "the client never clears a typing indicator on its "
        "expiry, only when the typist's next message is shown", ("member-away-pages",))
def _typing_never_expires() -> None:
    _typing_timers(expire=False)


# -- numbering and idempotency ------------------------------------------------------------------------------------
@mutant("seq_reused", "seq reused", "every 15th acknowledgement carries the previous message's seq",
        ("baseline",))
def _seq_reused() -> None:
    from system.room import ChatRoom
    send = ChatRoom.SendMessage
    reuse = every(15)

    async def send_message(self: Any, request: Any, call: Any) -> Any:
        answer = await send(self, request, call)
        if not hasattr(answer, "work"):
            return answer
        inner = answer.work

        async def acked() -> Any:
            reply = await inner
            if reuse() and reply.seq > 1 and not reply.duplicate:
                reply.seq -= 1
            return reply
        return type(answer)(acked())

    _rewrap(ChatRoom, "SendMessage", send_message)


@mutant("seq_skipped", "seq skipped", "every 15th message skips a number (the store's sequence check removed)",
        ("baseline",))
def _seq_skipped() -> None:
    from system.store import postgres, sqlite
    from system.transcript import Transcript
    stage = Transcript.stage
    skip = every(15)

    def _stage(self: Any, user: str, text: str, client_msg_id: str, now: int) -> Any:
        if skip():
            self.staged_seq += 1
        return stage(self, user, text, client_msg_id, now)

    Transcript.stage = _stage
    sqlite.check_sequence = postgres.check_sequence = lambda room, last_seq, messages: None


@mutant("retry_new_id", "idempotency broken on retry", "the client retries a send under a new client message "
        "id, so a send whose reply was lost is stored again", ("flaky-rpcs",))
def _retry_new_id() -> None:
    from system.client.calls import Calls
    call = Calls.call

    async def _call(self: Any, type_: str, object_id: str, method: str, request: Callable[[], Any],
                    reply_types: Any, budget: Any, failures: Any = None) -> Any:
        if method == "SendMessage":
            attempts, first = itertools.count(), request

            def request() -> Any:
                built, n = first(), next(attempts)
                if n:
                    built.client_msg_id = f"{built.client_msg_id}~{n}"
                return built
        return await call(self, type_, object_id, method, request, reply_types, budget, failures)

    Calls.call = _call


@mutant("wrong_members", "wrong member list", "pushes skip the first other member (by name) of the room",
        ("baseline",))
def _wrong_members() -> None:
    from system.room import ChatRoom
    durable = ChatRoom._durable

    def _durable(self: Any, transcript: Any, batch: Any) -> None:
        members = self.members
        for msg in batch.messages:  # each batch of the workload's sends is one message in practice
            others = sorted(name for name in members if name != msg.user)
            if others:
                self.members = {k: v for k, v in members.items() if k != others[0]}
        try:
            durable(self, transcript, batch)
        finally:
            self.members = members

    ChatRoom._durable = _durable


@mutant("delta_lost", "lost presence delta", "a member list's changes since a version leave out every change "
        "whose version is a multiple of 13, though the page's version passes it: never re-sent",
        ("big-room-presence",))
def _delta_lost() -> None:
    _deltas_filtered(lossy=True)


def _deltas_filtered(lossy: bool) -> None:
    """Each page of changes since a version (join, poll and ``Members`` replies, batched pushes) copied; when
    ``lossy``, the changes whose version is a multiple of 13 left out (a listing from the start is untouched)."""
    from system.memberlog import MemberLog
    page = MemberLog.page

    def filtered(self: Any, version: int, origin: int, member: Any, budget: int, listing: bool = False) -> Any:
        out = page(self, version, origin, member, budget, listing)
        if out.full:
            return out
        copy = type(out)()
        copy.CopyFrom(out)
        lost = (lambda user: self._at.get(user, 1) % 13 == 0) if lossy else (lambda user: False)
        del copy.members[:]
        copy.members.extend(m for m in out.members if not lost(m.user_name))
        del copy.gone[:]
        copy.gone.extend(u for u in out.gone if not lost(u))
        return copy

    MemberLog.page = filtered


# -- durability and ownership ------------------------------------------------------------------------------------
@mutant("ack_before_durable", "store acknowledges before durable", "the room acknowledges a send at once; the "
        "store writes it 0.5 s later", ("node-kill-restart",))
def _ack_before_durable() -> None:
    from system.room import ChatRoom
    from system.store.sqlite import SqliteStore
    write = SqliteStore.write

    async def lazy_write(self: Any, room: str, token: int, batch: Any) -> None:
        await asyncio.sleep(0.5)
        await write(self, room, token, batch)

    async def _settled(self: Any, done: Any, reply: Any) -> Any:
        return reply()

    SqliteStore.write = lazy_write
    ChatRoom._settled = _settled


def _claims(forget_sent: bool) -> None:
    """Every store's ``claim`` wrapped; ``forget_sent``: the record it returns has no dedup window (the ids of the
    newest sends), as if the store never read it back, so a retry after a restart or reload is stored anew."""
    import dataclasses
    from system.store.memory import MemoryStore
    from system.store.postgres import PostgresStore
    from system.store.sqlite import SqliteStore
    for cls in (SqliteStore, PostgresStore, MemoryStore):
        def wrap(claim: Callable[..., Any]) -> Callable[..., Any]:
            async def _claim(self: Any, *args: Any, **kwargs: Any) -> Any:
                record = await claim(self, *args, **kwargs)
                return dataclasses.replace(record, sent=[]) if forget_sent and record is not None else record
            return _claim
        cls.claim = wrap(cls.claim)


@mutant("dedup_forgotten_on_restart", "dedup window forgotten on restart", "a room taken from the store (at a "
        "restart, or reloaded after a failed write) has forgotten the ids of its newest sends",
        ("store-fail-restart",))
def _dedup_forgotten_on_restart() -> None:
    _claims(forget_sent=True)


def _writes(swallow: bool) -> None:
    """The room writer's store write wrapped; ``swallow``: a failed write (not a fenced one) is taken as durable."""
    from system.store import Fenced
    from system.store.writer import RoomWriter
    write = RoomWriter._write

    async def _write(self: Any, batch: Any, changes: list) -> Any:
        failure = await write(self, batch, changes)
        return None if swallow and failure is not None and not isinstance(failure, Fenced) else failure

    RoomWriter._write = _write


@mutant("store_error_swallowed", "failed store write acknowledged", "the room writer swallows a failed store "
        "write: the send is acknowledged and pushed, though the store never made it durable",
        ("store-fail-restart",))
def _store_error_swallowed() -> None:
    _writes(swallow=True)


def _fences(removed: bool) -> None:
    """Every store's ``write`` wrapped; ``removed``: a write refused as fenced (an older claim's token) is made
    anyway under the room's current token. Messages are still held back by the sequence check and the
    primary key; member and read-position changes are not."""
    from system.store import Fenced
    from system.store.memory import MemoryStore
    from system.store.postgres import PostgresStore
    from system.store.sqlite import SqliteStore

    async def token_pg(self: Any, room: str) -> int:
        async def body(db: Any) -> int:
            return await db.fetchval("SELECT token FROM pushchat_rooms WHERE name = $1", room)
        return await self._transact(f"reading room {room!r}'s token", body)

    async def token_sqlite(self: Any, room: str) -> int:
        row = await self._run(lambda db: db.execute("SELECT token FROM rooms WHERE name = ?", (room,)).fetchone())
        return row[0]

    async def token_memory(self: Any, room: str) -> int:
        return self._rooms[room].token

    for cls, current in ((PostgresStore, token_pg), (SqliteStore, token_sqlite), (MemoryStore, token_memory)):
        def wrap(write: Callable[..., Any], current: Callable[..., Any]) -> Callable[..., Any]:
            async def _write(self: Any, room: str, token: int, batch: Any) -> None:
                try:
                    await write(self, room, token, batch)
                except Fenced:
                    if not removed:
                        raise
                    await write(self, room, await current(self, room), batch)
            return _write
        cls.write = wrap(cls.write, current)


@mutant("fencing_removed", "deposed owner writes", "a store write under an older claim's token is made anyway, "
        "under the current one", ("deposed-owner-wakes",))
def _fencing_removed() -> None:
    _fences(removed=True)


def _rewrap(cls: Any, name: str, replacement: Callable[..., Any]) -> None:
    """Replace a ``@method`` chat method where the object host finds it (``cls.methods``, built at class creation)."""
    import dataclasses
    original = cls.__dict__[name]
    replacement._request_type = original._request_type  # type: ignore[attr-defined]
    setattr(cls, name, replacement)
    cls.methods = {**cls.methods, name: dataclasses.replace(cls.methods[name], fn=replacement)}


def _harmless() -> None:
    """A control, not a bug: the client's display wrapped, behaviour unchanged; it must NOT be caught."""
    from system.client.catchup import CatchUp
    show = CatchUp._show
    CatchUp._show = lambda self, view, shown: show(self, view, shown)


def _push_to_sender_mode() -> None:
    """A control: the node runs with --push-to-sender as if the runner had passed it, and says so; the echoes
    it then pushes are the mode's, not a bug, so the run must NOT be caught."""
    from system import cli_node
    add = cli_node.add_push_to_sender

    def add_push_to_sender(parser: Any) -> None:
        add(parser)
        parser.set_defaults(push_to_sender=True)

    cli_node.add_push_to_sender = add_push_to_sender


def _calls_wrapped() -> None:
    """A control: ``recovery_first_page``'s wrapping of the client's calls, cutting nothing."""
    first_page_only(cut=False)


def _rooms_restamped() -> None:
    """A control: the same copy-and-stamp of each pushed note as ``push_misfiled``, with the right room's name."""
    _restamping(lambda room, note: room.name)


def _deltas_copied() -> None:
    """A control: the same copy of each page of changes as ``delta_lost``, leaving nothing out."""
    _deltas_filtered(lossy=False)


def _relink_wrapped() -> None:
    """A control: the same wrapping of a re-opened node stream as ``gate_loses_after_relink``, losing nothing."""
    _reopened_streams(lossy=False)


#: Controls: planted like mutants, never in the table. A harmless one that were "caught" would mean the
#: runner calls everything caught.
CONTROLS: list[Mutant] = [Mutant("harmless", "none", "the client's display wrapped, unchanged", ("baseline",),
                                 _harmless),
                         Mutant("push_to_sender_mode", "none", "the node runs with --push-to-sender and says so",
                                ("baseline",), _push_to_sender_mode),
                         Mutant("rooms_restamped", "none", "each pushed note copied and stamped with its own room",
                                ("duplicate-pushes",), _rooms_restamped),
                         Mutant("claims_wrapped", "none", "every store's claim wrapped, the record unchanged",
                                ("store-fail-restart",), lambda: _claims(forget_sent=False)),
                         Mutant("writes_wrapped", "none", "the room writer's store write wrapped, its outcome unchanged",
                                ("store-fail-restart",), lambda: _writes(swallow=False)),
                         Mutant("marks_wrapped", "none", "the room's MarkRead wrapped, positions kept",
                                ("member-away-pages",), lambda: _marks(back=False)),
                         Mutant("typing_wrapped", "none", "the client's typing notes wrapped, timers kept",
                                ("member-away-pages",), lambda: _typing_timers(expire=True)),
                         Mutant("fences_wrapped", "none", "every store's write wrapped, fencing kept",
                                ("deposed-owner-wakes",), lambda: _fences(removed=False)),
                         Mutant("first_page_wrapped", "none", "the client's calls wrapped, replies unchanged",
                                ("member-away-pages",), _calls_wrapped),
                         Mutant("relink_wrapped", "none", "a re-opened node stream's reads wrapped, unchanged",
                                ("gate-node-link-drop", "node-kill-restart"), _relink_wrapped),
                         Mutant("deltas_copied", "none", "each page of member list changes copied, nothing left out",
                                ("big-room-presence",), _deltas_copied)]
BY_NAME: dict[str, Mutant] = {m.name: m for m in MUTANTS + CONTROLS}


def apply(name: str) -> None:
    """Plant mutant ``name`` in this process (unknown names are an error: a typo must not run unmutated)."""
    from tests.mutants.leaks import LEAKS  # caught by a soak (tests/chaos/test_soak.py), not in the table
    (BY_NAME.get(name) or LEAKS[name]).apply()
