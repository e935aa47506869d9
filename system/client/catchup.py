"""What the client shows of its rooms, and how it keeps them caught up.

Pushes are best effort, so each room keeps a cursor
(:class:`~system.client.roomview.RoomView`): a message is shown once, in seq
order, whether it comes by push, by poll or in a join's recent history, and
one that follows a gap is held while a poll fills the gap. The user's own
sends are known without being shown.

A room that stays silent for ``sync_interval`` is polled too: that finds a
lost last push, and a node that restarted and forgot its members (the room
is then re-joined). The wait is jittered and grows while such polls find
nothing (:meth:`RoomView.silent`): thousands of members of one quiet room
would otherwise poll in step, every few seconds, forever. A node that lost its data restarts a room's seqs from
1; a poll, join or send reply tells it (another store epoch, or numbers
that do not fit), and the client logs ``history_reset`` and follows the new
numbering. After a reconnection, :meth:`CatchUp.recover` re-joins every
room with the new client id and polls after each cursor, unless the join's
reply (the room's recent history) reached back to it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, OrderedDict

import grpc
from google.protobuf import any_pb2

from system import log
from system.client.calls import Calls
from system.client.connection import GateConnection
from system.client.failures import ProtocolError, describe
from system.client.observer import Observers
from system.client.presence import PresenceTracker
from system.client.results import PollResult
from system.client.roomview import Held, RoomView
from system.pb import chat_pb2
from system.room import ROOM_PREFIX

OWN_IDS_KEPT = 10000
# A send's reply: either of the two types the wire contract has for it.
SEND_REPLY_TYPES = (chat_pb2.Client_SendChatMessageResponse, chat_pb2.ChatRoom_SendChatMessageResponse)
SendReply = chat_pb2.Client_SendChatMessageResponse | chat_pb2.ChatRoom_SendChatMessageResponse

_log = log.get("client")


class CatchUp:
    """The rooms as this client shows them (``rooms``), kept complete through lost pushes and reconnections."""

    def __init__(self, user: str, connection: GateConnection, calls: Calls, observers: Observers, *,
                 page_size: int, sync_interval: float | None, presence: PresenceTracker | None = None) -> None:
        self.user = user
        self.presence = presence or PresenceTracker(user, observers)
        self.connection = connection
        self.calls = calls
        self.observers = observers
        self.page_size = page_size
        self.sync_interval = sync_interval
        self.rooms: dict[str, RoomView] = {}
        self._own: OrderedDict[str, None] = OrderedDict()  # ids of our sends not (yet) acknowledged
        self._sending: Counter[str] = Counter()  # room -> our sends awaiting their reply
        self._shown_by_poll = 0

    def view(self, room: str) -> RoomView:
        return self.rooms.setdefault(room, RoomView(room))

    def tasks(self) -> list[asyncio.Task[None]]:
        """The catch-up polls in flight (``close()`` cancels them)."""
        return [v.filling for v in self.rooms.values() if v.filling is not None]

    # -- what a call brought -----------------------------------------------------------
    def joined(self, view: RoomView, reply: chat_pb2.ChatRoom_JoinResponse, high_water: int,
               since: chat_pb2.MemberCursor | None = None) -> bool:
        """A join's reply: show its recent history (after what was shown before, if this history goes on)."""
        recent = list(reply.recent_messages)
        if not view.started:
            self._show(view, view.place(recent[0].seq - 1 if recent else reply.last_seq))
        elif view.is_new_epoch(reply.last_seq, recent, high_water, reply.store_epoch):
            self._history_reset(view, reply.last_seq, reply.store_epoch)
        view.adopt(reply.store_epoch)
        view.last_seq = max(view.last_seq, reply.last_seq)
        view.last_activity = time.monotonic()
        view.beat_every = reply.heartbeat_ms / 1000
        view.heard_by_room(view.last_activity, random.uniform)
        self._accept(view, recent, "join")
        in_turn = self.presence.replied(view.name, reply.member_page, list(reply.members), reply.members_as_of,
                                        "join", since)
        self._settle(view)
        return in_turn

    def sending(self, room: str, client_msg_id: str) -> None:
        """One of our sends to ``room`` is on its way: its push is ours, and a gap may be it."""
        self._own[client_msg_id] = None
        while len(self._own) > OWN_IDS_KEPT:
            self._own.popitem(last=False)
        self._sending[room] += 1

    def acknowledged(self, room: str, client_msg_id: str, reply: SendReply) -> None:
        """Our send is stored as ``reply.seq``: known, not shown; a seq we knew already means a new history."""
        self._own.pop(client_msg_id, None)
        view = self.rooms.get(room)
        if view is not None and view.started:
            if view.foreign(reply.store_epoch) or (not reply.store_epoch and not reply.duplicate
                                                   and view.known(reply.seq)):  # stored in a new history
                self._history_reset(view, reply.seq, reply.store_epoch)
                self._start_catch_up(view, "reset")
            self._show(view, view.own(reply.seq, reply.timestamp))
        self.sent(room)

    def sent(self, room: str, settle: bool = True) -> None:
        """One of our sends to ``room`` has its answer; a gap it did not fill is a real one."""
        self._sending[room] -= 1
        if not self._sending[room]:
            del self._sending[room]
            view = self.rooms.get(room)
            if settle and view is not None:
                self._settle(view)

    def on_payload(self, item: any_pb2.Any) -> None:
        """An item from the push stream."""
        note = chat_pb2.Client_NewMessageNotification()
        if not item.Is(note.DESCRIPTOR):
            if self.presence.on_item(item, lambda room: room in self.rooms and self.rooms[room].joined):
                return
            _log.debug("ignoring pushed %s", item.type_url)
            return
        item.Unpack(note)
        msg = note.message
        joined = [name for name, view in self.rooms.items() if view.joined]
        room = msg.room_name or (joined[0] if len(joined) == 1 else "")
        self.observers.on_push(room, msg)
        view = self.rooms.get(room)
        if view is not None and view.joined:
            view.heard(time.monotonic())
            if view.foreign(note.store_epoch):  # from another store's history: a poll says which is current
                self._start_catch_up(view, "reset")
                return
            self._accept(view, [msg], "push")
            self._settle(view)

    # -- polls and joins ---------------------------------------------------------------------
    async def poll(self, room: str, budget: float | None, reason: str) -> PollResult:
        """Every poll goes through here, so observers see each one, whatever asked for it."""
        after = self.rooms[room].poll_after() if room in self.rooms and self.rooms[room].started else 0
        self.observers.on_poll(room, after, reason)
        try:
            result = await self._poll_pages(room, budget)
        except BaseException as exc:
            self.observers.on_polled(room, after, reason, None, exc)
            raise
        self.observers.on_polled(room, after, reason, result, None)
        return result

    async def _poll_pages(self, room: str, budget: float | None) -> PollResult:
        view = self.view(room)
        if not view.started:
            self._show(view, view.place(0))
        shown: list[chat_pb2.ChatMessage] = []
        truncated, first_available, checked, after = False, 0, False, view.poll_after()
        high_water = view.high_water()
        sent: list[chat_pb2.MemberCursor] = []
        while True:
            reply = await self.calls.call("ChatRoom", ROOM_PREFIX + room, "GetRecentMessages",
                                          lambda: chat_pb2.ChatRoom_GetRecentMessagesRequest(
                                              after_seq=after, limit=self.page_size,
                                              members_since=self._sending_cursor(room, sent)),
                                          (chat_pb2.ChatRoom_GetRecentMessagesResponse,), budget)
            messages = list(reply.messages)
            if not checked:
                checked = True
                if view.is_new_epoch(reply.last_seq, messages, high_water, reply.store_epoch):
                    self._history_reset(view, reply.last_seq, reply.store_epoch)
                    if view.joined:  # the rooms went with the old node, and our membership too
                        await self.join_call(room, budget)
                    after = 0
                    continue
                if view.missing_before(reply.first_available_seq, reply.last_seq):
                    truncated, first_available = True, reply.first_available_seq
                    self._recovery_incomplete(view, reply.first_available_seq)
            view.adopt(reply.store_epoch)
            view.last_seq = max(view.last_seq, reply.last_seq)
            shown += self._accept(view, messages, "poll")
            if not reply.has_more or not messages:
                break
            after = messages[-1].seq
        view.last_activity = time.monotonic()
        in_turn = self.presence.replied(room, reply.member_page, list(reply.members), reply.members_as_of, "poll",
                                        sent[-1])
        await self.member_pages(room, reply.member_page, "poll", budget, in_turn)
        self._settle(view)
        return PollResult(room, shown, truncated, first_available, reply.last_seq)

    def _sending_cursor(self, room: str, sent: list[chat_pb2.MemberCursor]) -> chat_pb2.MemberCursor:
        """The cursor of the list held, for a request about to go (kept in ``sent``: its reply is in turn only
        if the cursor held is still this one)."""
        sent.append(self.presence.view(room).cursor())
        return sent[-1]

    async def member_pages(self, room: str, page: chat_pb2.MemberPage, source: str, budget: float | None,
                           in_turn: bool = True) -> None:
        """The rest of the member list after a reply's ``page`` (applied), a ``Members`` call per page."""
        async def more(cursor: chat_pb2.MemberCursor) -> chat_pb2.MemberPage:
            reply = await self.calls.call("ChatRoom", ROOM_PREFIX + room, "Members",
                                          lambda: chat_pb2.ChatRoom_MembersRequest(user_name=self.user,
                                                                                   members_since=cursor),
                                          (chat_pb2.ChatRoom_MembersResponse,), budget)
            return reply.member_page
        await self.presence.rest(room, page, source, more, in_turn)

    async def join_call(self, room: str, budget: float | None,
                        sent: list[chat_pb2.MemberCursor] | None = None) -> chat_pb2.ChatRoom_JoinResponse:
        """Join with our current client id; again if a reconnect changed the id while the call ran.
        ``sent``: the member cursors the requests carried are added to it (the last is the reply's)."""
        used: list[str] = []
        cursors = [] if sent is None else sent

        def request() -> chat_pb2.ChatRoom_JoinRequest:
            used.append(self.connection.client_id)
            return chat_pb2.ChatRoom_JoinRequest(user_name=self.user, client_id=self.connection.client_id,
                                                 members_since=self._sending_cursor(room, cursors))

        for _ in range(3):
            reply = await self.calls.call("ChatRoom", ROOM_PREFIX + room, "Join", request,
                                          (chat_pb2.ChatRoom_JoinResponse,), budget)
            if used[-1] == self.connection.client_id:
                break
        return reply

    # -- after a reconnection, and in silence ---------------------------------------------
    async def recover(self) -> int:
        """Re-join every room with the new client id, then poll after each cursor; return how many were shown."""
        before = self._shown_by_poll
        views = [v for v in self.rooms.values() if v.joined]
        for view in views:
            view.recovering = True
        try:
            for view in views:
                if view.joined and not await self._rejoin(view):
                    continue  # the join's reply showed all we missed: no poll
                if view.joined:
                    try:
                        await self.poll(view.name, None, "recovery")  # transient failures: retried till the stream ends
                    except (grpc.aio.AioRpcError, ProtocolError) as exc:  # refused: the silence check tries again
                        _log.warning("recovery poll of %s failed: %s", view.name, describe(exc))
        finally:
            for view in views:
                view.recovering = False
                self._settle(view)
        return self._shown_by_poll - before

    async def _rejoin(self, view: RoomView) -> bool:
        """Join again with the new client id; True when a poll must follow to catch up.

        The reply's recent history shows what came after our cursor when it reaches back as far as the
        poll would have asked (its anchor included), and its page of the member list is applied: in a
        storm of thousands of members back at once, that is one call each where join and poll were two."""
        high_water, after = view.high_water(), view.poll_after()
        sent: list[chat_pb2.MemberCursor] = []
        try:
            reply = await self.join_call(view.name, None, sent)
        except grpc.aio.AioRpcError as exc:  # refused for good (e.g. the room is gone): stop following it
            log.event(_log, logging.WARNING, "rejoin_failed", user=self.user, room=view.name,
                      code=exc.code().name, error=exc.details())
            view.joined = False
            return False
        recent = list(reply.recent_messages)
        reset = view.started and view.is_new_epoch(reply.last_seq, recent, high_water, reply.store_epoch)
        if reset:
            self._history_reset(view, reply.last_seq, reply.store_epoch)
        view.adopt(reply.store_epoch)
        view.beat_every = reply.heartbeat_ms / 1000
        view.heard_by_room(time.monotonic(), random.uniform)  # the re-join stands for the next heartbeat
        covered = view.started and not reset and (bool(recent) and recent[0].seq <= after + 1
                                                  or reply.last_seq == view.cursor == 0)
        if covered:
            view.last_seq = max(view.last_seq, reply.last_seq)
            view.last_activity = time.monotonic()
            self._accept(view, recent, "join")
        in_turn = self.presence.replied(view.name, reply.member_page, list(reply.members), reply.members_as_of,
                                        "join", sent[-1])
        await self.member_pages(view.name, reply.member_page, "join", None, in_turn)
        return not covered or bool(view.pending) or view.cursor < reply.last_seq

    def beat_answered(self, room: str, last_seq: int, store_epoch: int, heartbeat_ms: int = 0) -> None:
        """A ``Members`` reply (our heartbeat) told the room's last seq: it stands for a silence poll.

        Nothing missed (the last seq is our cursor): the room is as quiet as it looks, and no poll of our
        own is due; else, once the room has been silent for ``sync_interval``, the catch-up poll a silence
        check would make. Each member of a quiet room of thousands makes one periodic call, not two."""
        view = self.rooms.get(room)
        if view is not None:
            view.beat_every = heartbeat_ms / 1000
        if self.sync_interval is None or view is None or not (view.joined and view.started) or view.recovering:
            return
        now = time.monotonic()
        if view.foreign(store_epoch):
            self._start_catch_up(view, "reset")
        elif last_seq == view.cursor and not view.pending:
            view.last_activity = max(view.last_activity, now)
        elif now - view.last_activity >= self.sync_interval and not self._sending[room]:
            view.last_activity = now
            self._start_catch_up(view, "silence")

    async def watch_silence(self) -> None:
        """Poll rooms that stayed silent: a lost last push, or a node that forgot we are members."""
        assert self.sync_interval
        tick = max(0.05, self.sync_interval / 4)
        while True:
            await asyncio.sleep(tick)
            if not self.connection.connected or not self.connection.reading.is_set():
                continue
            now = time.monotonic()
            for view in list(self.rooms.values()):
                if (view.joined and view.started and view.filling is None and not view.recovering
                        and view.silent(now, max(self.sync_interval, view.beat_every), random.uniform)):
                    view.last_activity = now
                    self._start_catch_up(view, "silence")

    # -- what is shown -------------------------------------------------------------------
    def _accept(self, view: RoomView, messages: list[chat_pb2.ChatMessage], source: str) -> list[chat_pb2.ChatMessage]:
        """Show what is next (with what it releases), hold the rest; return those of ``messages`` shown."""
        own = [m.user_name == self.user and m.client_msg_id in self._own for m in messages]  # sends not acked yet
        shown = view.offer(messages, source, own)
        self._show(view, shown)
        ids = {id(m) for m in messages}
        return [m for m, _ in shown if id(m) in ids]

    def _show(self, view: RoomView, shown: list[Held]) -> None:
        for msg, source in shown:
            if source in ("poll", "join"):  # a re-join's reply may show what was missed, as a poll does
                self._shown_by_poll += 1
            self.observers.on_display(view.name, msg, source)
            self.presence.shown(view.name, msg.user_name)

    def _settle(self, view: RoomView) -> None:
        """Messages are held behind a gap: poll to fill it (unless a poll or the recovery is on it).

        While one of our own sends to the room awaits its reply, the gap may be that message
        (others' pushes can overtake our reply): the send settles again when its reply is in.
        """
        if self._sending[view.name]:
            return
        if view.started and view.pending and view.filling is None and not view.recovering:
            log.event(_log, logging.INFO, "gap_detected", user=self.user, room=view.name, cursor=view.cursor,
                      seq=min(view.pending))
            self.observers.on_gap(view.name, view.cursor)
            self._start_catch_up(view, "gap")

    def _start_catch_up(self, view: RoomView, reason: str) -> None:
        if view.filling is None and not view.recovering and not self.connection.closing:
            view.filling = asyncio.create_task(self._catch_up(view, reason), name=f"catch-up {view.name}")

    async def _catch_up(self, view: RoomView, reason: str) -> None:
        """One poll, no waiting for the link (the recovery covers outages); re-join if pushes went missing."""
        result: PollResult | None = None
        try:
            result = await self.poll(view.name, 0, reason)
            if view.joined and (reason == "reset" or (reason == "silence" and result.messages)):
                if reason == "silence":
                    log.event(_log, logging.INFO, "push_missed", user=self.user, room=view.name,
                              count=len(result.messages))
                await self.join_call(view.name, 0)
        except (grpc.aio.AioRpcError, ProtocolError) as exc:  # the next push, poll or recovery tries again
            _log.info("catch-up poll of %s failed: %s", view.name, describe(exc))
        finally:
            view.filling = None
            if reason == "silence":
                view.silence_polled(time.monotonic(), bool(result is not None and result.messages), result is None)

    def _history_reset(self, view: RoomView, last_seq: int, epoch: int = 0) -> None:
        log.event(_log, logging.WARNING, "history_reset", user=self.user, room=view.name, cursor=view.cursor,
                  last_seq=last_seq, epoch=epoch)
        view.reset(last_seq, epoch)
        self.presence.reset(view.name)
        self.observers.on_history_reset(view.name)

    def _recovery_incomplete(self, view: RoomView, first_available_seq: int) -> None:
        log.event(_log, logging.WARNING, "recovery_incomplete", user=self.user, room=view.name,
                  first_available_seq=first_available_seq, cursor=view.cursor)
        self.observers.on_recovery_incomplete(view.name, first_available_seq, view.cursor)
        view.truncated = True
        view.skip_to(first_available_seq - 1)
        self._show(view, view.release())
