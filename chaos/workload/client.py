"""Clients that join, send at a set rate, receive pushes, poll — and record it all.

Each chaos client is a real :class:`system.client.ChatClient` dialling its
own proxy; an observer turns what the client does and shows into history
records (docs/architecture.md, "History"). Sends carry unique payloads and
client message ids (``<client>-<n>``), so the checker can tell every
message apart even if a node restarts its sequence numbers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import grpc

from chaos.history import History
from chaos.workload.presence_recorder import FinalLists, PresenceRecorder, record_final, type_and_mark
from chaos.workload.variations import stale_mark
from chaos.rundir import client_log_name
from system import log
from system.client import ChatClient, SendFailed
from system.grpcopts import Keepalive
from system.tls import ClientTls
from system.pb import chat_pb2


CONNECT_DEADLINE = 60.0  # s a member may take to first register (and join) before the run gives up
CONNECT_RETRY = 0.2
# a first join cut short: by its deadline, no link, or its channel replaced by the client's reconnect
FIRST_JOIN_RETRIED = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


@dataclass
class Counts:
    """Live figures for the progress line."""

    sends_ok: int = 0
    sends_failed: int = 0
    sends_indefinite: int = 0
    pushes: int = 0
    shown_by_poll: int = 0
    polls: int = 0
    reconnects: int = 0
    started: int = 0      # load clients whose start (connect, first joins) is over, joined or not


class _Recorder:
    """A ChatClient observer writing one client's history records."""

    def __init__(self, name: str, history: History, counts: Counts) -> None:
        self.name, self.history, self.counts = name, history, counts

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        self.history.ok(self.name, "deliver", {
            "room": room, "seq": message.seq, "client_msg_id": message.client_msg_id,
            "sender": message.user_name, "source": source})
        if source == "poll":
            self.counts.shown_by_poll += 1

    def on_push(self, room: str, message: chat_pb2.ChatMessage) -> None:
        self.history.ok(self.name, "push", {"room": room, "seq": message.seq, "client_msg_id": message.client_msg_id,
                                            "sender": message.user_name})
        self.counts.pushes += 1

    def on_stream_end(self, error: BaseException | None) -> None:
        self.history.info(self.name, "stream_end", {"error": _describe(error) if error else None})

    def on_poll(self, room: str, after_seq: int, reason: str) -> None:
        self.history.invoke(self.name, "poll", {"room": room, "after_seq": after_seq, "reason": reason})

    def on_polled(self, room: str, after_seq: int, reason: str, result: Any, error: BaseException | None) -> None:
        value = {"room": room, "after_seq": after_seq, "reason": reason}
        if error is not None:
            self.history.fail(self.name, "poll", {**value, "error": _describe(error)})
            return
        self.history.ok(self.name, "poll", {**value, "count": len(result.messages), "truncated": result.truncated})
        self.counts.polls += 1

    def on_reconnecting(self, attempt: int, error: BaseException | None, wait: float) -> None:
        self.history.invoke(self.name, "reconnect", {"attempt": attempt, "error": _describe(error) if error else None,
                                                     "wait": round(wait, 3)})

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        self.history.ok(self.name, "reconnect", {"client_id": client_id, "recovered": recovered})
        self.counts.reconnects += 1

    def on_recovery_incomplete(self, room: str, first_available_seq: int, cursor: int) -> None:
        self.history.info(self.name, "poll", {"room": room, "truncated": True,
                                              "first_available_seq": first_available_seq, "after_seq": cursor})

    def on_history_reset(self, room: str) -> None:
        self.history.info(self.name, "history_reset", {"room": room})

    def on_gap(self, room: str, after_seq: int) -> None:
        self.history.info(self.name, "gap", {"room": room, "after_seq": after_seq})


@contextmanager
def client_logs(folder: Path, names: Iterable[str]) -> Iterator[None]:
    """Each client's library log (stream losses, reconnect waits, …) into ``folder/client-NAME.log``.

    The runner's terminal is for its progress and tables: these lines belong to the run.
    """
    logger = logging.getLogger("pushchat.client")
    handler = log.FilePerUser({name: folder / client_log_name(name) for name in names})
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def _describe(error: BaseException) -> str:
    code = getattr(error, "code", None)
    details = getattr(error, "details", None)
    if callable(code) and callable(details):
        return f"{code().name}: {details()}"
    return f"{type(error).__name__}: {error}"


def payload(client: str, n: int, size: int) -> str:
    """A unique, recognisable text of ``size`` bytes (at least its own id)."""
    head = f"{client}#{n} "
    return head + "x" * max(0, size - len(head))


@dataclass
class WorkloadClient:
    """One chaos client: a ChatClient plus the history it writes."""

    name: str
    addr: str
    history: History
    counts: Counts
    keepalive: Keepalive
    token: str | None = None       # for a gate run with --auth token
    tls: ClientTls | None = None   # for a gate serving TLS
    presence: bool = False         # also type, mark read and record presence (workload.presence)
    stale_reads: bool = False      # also mark read behind itself after each send (workload.stale_readers)
    final_lists: FinalLists | None = None  # only the member list after the final poll (topology.load.presence)
    client: ChatClient = field(init=False)
    sent: int = 0

    def __post_init__(self) -> None:
        observers: list[object] = [_Recorder(self.name, self.history, self.counts)]
        if self.presence:
            observers.append(PresenceRecorder(self.name, self.history, lambda: self.client))
        self.client = ChatClient(self.addr, self.name, observers=observers, keepalive=self.keepalive,
                                 token=self.token, tls=self.tls, presence_interval=1.0 if self.presence else 5.0)

    # the fault injector's ClientControl
    def stop_reading(self) -> None:
        self.client.stop_reading()

    def resume_reading(self) -> None:
        self.client.resume_reading()

    async def start(self, rooms: Iterable[str], must_join: bool = True) -> None:
        """Connect and join ``rooms``. A join that fails for good raises, unless not ``must_join`` (a load
        client among thousands): its failure is in the history, the client goes on unjoined, and the checker
        judges the run with it rather than the run being lost to one late join."""
        log.current_user.set(self.name)  # this task and the client's tasks started from it log as us
        h = self.history
        h.invoke(self.name, "connect", {"addr": self.addr})
        client_id = await self._first_connect()
        h.ok(self.name, "connect", {"client_id": client_id})
        for room in rooms:
            try:
                await self._first_join(room)
            except Exception:
                if must_join:
                    raise

    async def _first_join(self, room: str) -> None:
        """Join before the workload starts; a join that timed out or found no link (a machine too loaded to
        answer within the call's deadline, thousands joining at once) is tried again until CONNECT_DEADLINE:
        no fault is active yet. Joins are idempotent, so one that was made and not answered does no harm.
        A join that fails for good is recorded as failed and raised."""
        h = self.history
        deadline = time.monotonic() + CONNECT_DEADLINE
        while True:
            h.invoke(self.name, "join", {"room": room})
            try:
                joined = await self.client.join(room)
            except Exception as exc:
                code = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else None
                if code in FIRST_JOIN_RETRIED and time.monotonic() < deadline:
                    h.info(self.name, "join", {"room": room, "error": _describe(exc)})  # its outcome is unknown
                    await asyncio.sleep(CONNECT_RETRY)
                    continue
                h.fail(self.name, "join", {"room": room, "error": _describe(exc)})
                raise
            h.ok(self.name, "join", {"room": room, "client_id": self.client.client_id, "last_seq": joined.last_seq})
            return

    async def _first_connect(self) -> str:
        """Register before the workload starts; a link still coming up on a loaded machine (UNAVAILABLE)
        is tried again until CONNECT_DEADLINE, since no fault is active yet and a refusal is no finding."""
        deadline = time.monotonic() + CONNECT_DEADLINE
        while True:
            try:
                return await self.client.connect()
            except (grpc.aio.AioRpcError, TimeoutError) as exc:  # TimeoutError: no answer to Register in time
                late = isinstance(exc, TimeoutError) or exc.code() == grpc.StatusCode.UNAVAILABLE
                if not late or time.monotonic() >= deadline:
                    raise
                self.history.info(self.name, "connect_retry", {"error": _describe(exc)})
                await asyncio.sleep(CONNECT_RETRY)

    async def send(self, room: str, text_bytes: int) -> None:
        if self.presence:
            await type_and_mark(self.client, self.history, self.name, room)
        self.sent += 1
        cmid = f"{self.name}-{self.sent}"
        text = payload(self.name, self.sent, text_bytes)
        self.history.invoke(self.name, "send", {"room": room, "client_msg_id": cmid, "text": text[:40]})
        try:
            res = await self.client.send(room, text, client_msg_id=cmid)
        except SendFailed as exc:
            kind = "fail" if exc.definite else "info"
            getattr(self.history, kind)(self.name, "send", {"room": room, "client_msg_id": cmid, "error": str(exc)})
            if exc.definite:
                self.counts.sends_failed += 1
            else:
                self.counts.sends_indefinite += 1
            return
        except Exception as exc:  # unknown outcome: it may have been stored
            self.history.info(self.name, "send", {"room": room, "client_msg_id": cmid, "error": _describe(exc)})
            self.counts.sends_indefinite += 1
            return
        self.history.ok(self.name, "send", {"room": room, "client_msg_id": cmid, "seq": res.seq,
                                            "timestamp": res.timestamp, "duplicate": res.duplicate})
        self.counts.sends_ok += 1
        if self.stale_reads:
            await stale_mark(self.client, self.history, self.name, room)

    async def send_loop(self, rooms: list[str], rate: float, until: float, text_bytes: int) -> None:
        """Send round-robin over ``rooms`` at ``rate``/s until ``until`` (monotonic); never bursts to catch up."""
        log.current_user.set(self.name)
        interval = 1.0 / rate
        next_at = time.monotonic()
        i = 0
        while True:
            now = time.monotonic()
            if now >= until:
                return
            if next_at > now:
                await asyncio.sleep(min(next_at, until) - now)  # the send rate itself
                continue
            await self.send(rooms[i % len(rooms)], text_bytes)
            i += 1
            next_at = max(next_at + interval, time.monotonic() - interval)

    def caught_up(self, last_seqs: Mapping[str, int]) -> bool:
        """Connected, and every room's cursor reached the server's last seq, with nothing held back."""
        if not self.client.connected:
            return False
        for room, last in last_seqs.items():
            state = self.client.rooms.get(room)
            if state is None or state.cursor < last or state.has_gap:
                return False
        return True

    async def final_poll(self, room: str, held: list[dict[str, Any]]) -> None:
        """Show what is still missing (the poll is recorded by the observer), then record what
        the server holds; a failed poll leaves no final_poll, so the checker says unknown."""
        token = log.current_user.set(self.name)
        try:
            await self.client.poll(room)
        except Exception:
            return
        finally:
            log.current_user.reset(token)
        self.history.ok(self.name, "final_poll", {"room": room, "messages": held})
        if self.presence:
            record_final(self.client, self.history, self.name, room)
        elif self.final_lists is not None:
            self.final_lists.record(self.client, self.history, self.name, room)

    async def close(self) -> None:
        await self.client.close()

