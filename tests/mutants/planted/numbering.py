"""Planted bugs in numbering and idempotency (seqs reused or skipped, a retry under a new id) and
in member lists (a member left out, a lost delta).

Each registers itself with ``@mutant`` (:mod:`tests.mutants.base`) on import; :mod:`tests.mutants.registry`
imports this module.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

from tests.mutants.base import every, mutant, rewrap


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

    rewrap(ChatRoom, "SendMessage", send_message)


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
    deltas_filtered(lossy=True)


def deltas_filtered(lossy: bool) -> None:
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
