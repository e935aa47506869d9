"""A room's presence on its own: the presence clock, away after the grace, typing rate, monotone reads."""

from __future__ import annotations

from system.presence import Presence, PresenceConfig


def test_the_presence_clock_never_steps_back_even_when_the_wall_clock_does() -> None:
    p = Presence(PresenceConfig(), {}, {}, now=0.0, wall_us=1000)
    first = p.joined("alice", 0.0, 1000)
    assert first is not None and p.tick(500) > first  # the wall clock stepped back: still later


def test_members_are_away_after_the_grace_and_back_when_heard_from() -> None:
    p = Presence(PresenceConfig(grace=5.0), {"alice": "g:1/a", "bob": "g:1/b"}, {"bob": 3}, now=0.0, wall_us=1)
    p.heard_from("alice", 4.0)
    p.heard_from("mallory", 4.0)  # not a member: nothing
    assert [(m.user_name, m.away, m.read_seq) for m in p.members(6.0)] == [("alice", False, 0), ("bob", True, 3)]
    assert "mallory" not in p.heard


def test_typing_is_refused_within_the_interval_and_reads_never_move_back() -> None:
    p = Presence(PresenceConfig(typing_interval=1.0), {"alice": ""}, {}, now=0.0, wall_us=1)
    assert p.may_type("alice", 10.0) and not p.may_type("alice", 10.5) and p.may_type("alice", 11.0)
    assert p.read("alice", 4) and not p.read("alice", 2) and p.read_position("alice") == 4
    assert p.left("alice", 2) is not None and p.left("alice", 3) is None


def test_a_big_room_asks_for_slower_heartbeats_and_gives_its_members_a_grace_to_match() -> None:
    """Past heartbeat_rate x the interval (grace / 3) members, the interval and the grace grow with the room:
    its members' periodic calls stay at about heartbeat_rate a second, and none turns away for beating slower."""
    config = PresenceConfig(grace=6.0, heartbeat_rate=5.0)  # beats every 2 s: 10 members at 5 a second
    small = Presence(config, {f"u{i}": "" for i in range(10)}, {}, now=0.0, wall_us=1)
    assert (small.heartbeat_ms(), small.grace()) == (0, 6.0)  # as before: the client's own interval
    big = Presence(config, {f"u{i}": "" for i in range(40)}, {}, now=0.0, wall_us=1)
    assert (big.heartbeat_ms(), big.grace()) == (8000, 24.0)  # 40 members beating every 8 s: 5 a second
    big.heard_from("u1", 10.0)
    big.settle(20.0, 2)
    assert not big.away("u0", 20.0) and big.member("u0").away is False  # unheard for 20 s < 24 s
    big.settle(25.0, 3)
    assert big.away("u0", 25.0) and big.member("u0").away and not big.member("u1").away
