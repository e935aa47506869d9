"""Planted bugs in the client's recovery (skipped polls, a wrong cursor, one page read), read
positions and typing indicators.

Each registers itself with ``@mutant`` (:mod:`tests.mutants.base`) on import; :mod:`tests.mutants.registry`
imports this module.
"""

from __future__ import annotations

from typing import Any, Callable

from tests.mutants.base import mutant, rewrap


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


def marks(back: bool) -> None:
    """The room's ``MarkRead`` wrapped; ``back``: a mark behind the reader's position moves it back (the room
    forgets the position just before the mark, so the mark is stored and answered as a step forward)."""
    from system.room import ChatRoom, speaker
    mark = ChatRoom.MarkRead

    async def mark_read(self: Any, request: Any, call: Any) -> Any:
        user = speaker(request.user_name, call)
        if back and 0 < request.seq < self.presence.reads.get(user, 0):
            self.presence.reads[user] = request.seq - 1
        return await mark(self, request, call)

    rewrap(ChatRoom, "MarkRead", mark_read)


@mutant("read_goes_back", "read position goes back", "a MarkRead behind the reader's position moves it back",
        ("member-away-pages",))
def _read_goes_back() -> None:
    marks(back=True)


def typing_timers(expire: bool) -> None:
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
    typing_timers(expire=False)
