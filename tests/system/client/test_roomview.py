"""The room view without sockets: once, in order, merged by seq; own sends; epochs; trimmed history."""

from __future__ import annotations

from system.client.roomview import RoomView
from system.pb import chat_pb2


def msg(seq: int, ts: int | None = None, text: str = "") -> chat_pb2.ChatMessage:
    return chat_pb2.ChatMessage(seq=seq, timestamp=1000 + seq if ts is None else ts, message=text or f"m{seq}",
                                user_name="alice", room_name="General")


def shown(held: list[tuple[chat_pb2.ChatMessage, str]]) -> list[tuple[int, str]]:
    return [(m.seq, source) for m, source in held]


def started(cursor: int = 0) -> RoomView:
    view = RoomView("General")
    view.place(cursor)
    return view


def test_messages_are_shown_once_in_seq_order_and_a_gap_holds_what_follows() -> None:
    view = started()
    assert shown(view.offer([msg(1)], "push")) == [(1, "push")]
    assert view.offer([msg(1)], "poll") == []                  # a duplicate is dropped
    assert view.offer([msg(3)], "push") == [] and view.has_gap  # held behind the gap at 2
    assert shown(view.offer([msg(2), msg(3)], "poll")) == [(2, "poll"), (3, "poll")]
    assert (view.cursor, view.has_gap, [m.seq for m in view.messages]) == (3, False, [1, 2, 3])


def test_pushes_that_arrive_while_a_recovery_poll_is_in_flight_merge_without_gaps_or_duplicates() -> None:
    view = started(2)
    assert view.offer([msg(6)], "push") == [] and view.offer([msg(7)], "push") == []
    out = view.offer([msg(3), msg(4), msg(5), msg(6)], "poll")  # the poll's answer overlaps the held pushes
    assert shown(out) == [(3, "poll"), (4, "poll"), (5, "poll"), (6, "poll"), (7, "push")]
    assert view.offer([msg(8)], "push") and view.cursor == 8


def test_own_sends_are_known_not_shown_and_release_what_they_held_up() -> None:
    view = started()
    assert view.offer([msg(2)], "push") == []
    assert shown(view.own(1, 1001)) == [(2, "push")]       # our #1 was the gap
    assert view.offer([msg(3), msg(4)], "poll", own=[True, False]) and view.cursor == 4
    assert [m.seq for m in view.messages] == [2, 4]


def test_pushes_before_the_first_join_reply_wait_for_the_cursor() -> None:
    view = RoomView("General", joined=True)
    assert view.offer([msg(11)], "push") == []
    assert view.place(9) == []                             # the join said: history up to #9 is old
    assert shown(view.offer([msg(10)], "join")) == [(10, "join"), (11, "push")]


def test_a_new_history_is_told_from_a_late_reply_of_the_old_one() -> None:
    view = started()
    view.offer([msg(1), msg(2), msg(3)], "push")
    assert view.poll_after() == 2                          # ask from one before: the anchor #3 comes back
    assert not view.is_new_epoch(3, [msg(3)], view.high_water())
    assert view.is_new_epoch(1, [], view.high_water())     # fewer messages than we have seen
    assert view.is_new_epoch(5, [msg(3, ts=9999)], view.high_water())  # #3 exists, but it is another message
    before = view.high_water()
    view.offer([msg(4)], "push")                           # a push overtook a reply computed before #4
    assert not view.is_new_epoch(3, [msg(3)], before)


def test_after_a_reset_the_new_numbering_is_followed_and_old_pushes_are_ignored() -> None:
    view = started()
    view.offer([msg(1), msg(2), msg(3)], "push")
    view.reset(1)
    assert (view.cursor, view.anchor, view.started) == (0, None, True)
    assert view.offer([msg(3)], "push") == []             # still on its way from the old history
    assert shown(view.offer([msg(1, ts=5000)], "poll")) == [(1, "poll")]
    assert [m.seq for m in view.messages] == [1, 2, 3, 1]  # what was shown stays shown


def test_trimmed_history_is_noticed_and_skipped() -> None:
    view = started(2)
    assert view.missing_before(first_available_seq=8, last_seq=12)
    assert not view.missing_before(first_available_seq=3, last_seq=12)
    assert not view.missing_before(first_available_seq=8, last_seq=2)   # nothing after the cursor
    view.skip_to(7)
    assert shown(view.offer([msg(8)], "poll")) == [(8, "poll")] and view.anchor == (8, 1008)


def _silence_polls(view: RoomView, interval: float, draw, until: float, found=lambda t: False) -> list[float]:
    """When a client's silence check (ticking every 0.25 s) would poll ``view`` up to ``until``."""
    polls, t = [], 0.0
    while t < until:
        t += 0.25
        if view.silent(t, interval, draw):
            polls.append(t)
            view.silence_polled(t, found(t))
    return polls


def test_a_silent_room_is_polled_less_and_less_while_its_polls_find_nothing() -> None:
    view = RoomView("r", joined=True, started=True)
    polls = _silence_polls(view, 1.0, lambda lo, hi: lo, 40.0)
    gaps = [b - a for a, b in zip([0.0, *polls], polls)]
    assert gaps[:3] == [1.0, 2.0, 4.0]                  # 2,000 members of a quiet room stop polling every interval
    assert set(gaps[3:]) == {4.0}                        # up to a bound: a lost last push is still found


def test_a_push_or_a_poll_that_finds_messages_brings_the_silence_wait_back_to_its_shortest() -> None:
    view = RoomView("r", joined=True, started=True)
    _silence_polls(view, 1.0, lambda lo, hi: lo, 10.0)
    view.heard(10.0)
    assert _silence_polls(view, 1.0, lambda lo, hi: lo, 11.0) == [11.0]
    view = RoomView("r", joined=True, started=True)
    polls = _silence_polls(view, 1.0, lambda lo, hi: lo, 10.0, found=lambda t: True)
    assert polls == [float(t) for t in range(1, 11)]


def test_members_of_one_room_do_not_poll_in_step() -> None:
    import random
    rng = random.Random(7)
    firsts = set()
    for _ in range(50):  # 50 members, silent since the same moment (joined or reconnected together)
        firsts.add(_silence_polls(RoomView("r", joined=True, started=True), 3.0, rng.uniform, 5.0)[0])
    assert len(firsts) > 3 and min(firsts) >= 3.0 and max(firsts) <= 4.5


def test_a_silent_room_whose_polls_fail_is_asked_less_still() -> None:
    view = RoomView("r", joined=True, started=True)
    polls, t = [], 0.0
    while t < 120.0:
        t += 0.25
        if view.silent(t, 1.0, lambda lo, hi: lo):
            polls.append(t)
            view.silence_polled(t, found=False, failed=True)  # the server too busy to answer
    gaps = [b - a for a, b in zip([0.0, *polls], polls)]
    assert gaps[:5] == [1.0, 2.0, 4.0, 8.0, 16.0] and set(gaps[5:]) == {16.0}


def test_in_a_room_that_asked_for_slower_heartbeats_a_call_it_answered_stands_for_the_next_beat() -> None:
    """After a reconnect storm, each member's re-join was followed by a heartbeat the room did not need."""
    view = RoomView("General")
    view.heard_by_room(100.0, lambda low, high: low)
    assert view.next_beat == 0.0  # the room asked for nothing: the client's own interval, from its own turns
    view.beat_every = 20.0
    view.heard_by_room(100.0, lambda low, high: low)
    assert view.next_beat == 116.0  # 20 s, shortened by at most the jitter
    view.heard_by_room(130.0, lambda low, high: high)
    assert view.next_beat == 150.0
