"""The versioned member list: changes since a version, bounded pages, and a client that converges on them."""

from __future__ import annotations

from system.client.presence import RoomPresence
from system.pb import chat_pb2
from system.presence import Presence, PresenceConfig


def _room(members: int, **config: object) -> Presence:
    return Presence(PresenceConfig(**config), {f"user{i:05d}": "g:1/x" for i in range(members)}, {}, 0.0, 1_000)


def _since(view: RoomPresence) -> chat_pb2.ChatRoom_MembersRequest:
    return chat_pb2.ChatRoom_MembersRequest(members_since=view.cursor())


def _follow(p: Presence, view: RoomPresence, now: float = 1.0) -> int:
    """Ask as our client does until the list is all in; the biggest reply's size."""
    biggest, more = 0, True
    while more:
        members, as_of, page = p.listing(_since(view), now, 2_000_000)
        assert page is not None and not members
        biggest = max(biggest, chat_pb2.ChatRoom_MembersResponse(as_of=as_of, member_page=page).ByteSize())
        view.paged(page)
        more = page.more
    return biggest


def test_a_big_room_comes_in_bounded_pages_and_then_as_changes() -> None:
    p, view = _room(10_000), RoomPresence()
    assert _follow(p, view) <= 16_000
    assert set(view.members) == set(p.since)
    p.joined("newcomer", 1.0, 3_000_000)
    p.left("user00007", 3_000_001)
    members, _, page = p.listing(_since(view), 1.0, 3_000_002)
    assert not page.full and [m.user_name for m in page.members] == ["newcomer"] and list(page.gone) == ["user00007"]
    view.paged(page)
    assert set(view.members) == set(p.since)


def test_a_client_that_missed_changes_catches_up_from_its_version() -> None:
    p, alice = _room(50), RoomPresence()
    _follow(p, alice)
    for i in range(3000):  # joins and leaves whose pushes alice never got
        p.joined(f"late{i}", 2.0, 4_000_000 + 2 * i)
        if i % 3 == 0:
            p.left(f"user{i % 50:05d}" if i < 150 else f"late{i - 1}", 4_000_001 + 2 * i)
    assert _follow(p, alice, now=2.0) <= 16_000
    assert set(alice.members) == set(p.since)


def test_a_stale_or_foreign_version_gets_the_list_from_the_start_and_drops_who_left() -> None:
    p, view = _room(3000, max_gone=10), RoomPresence()
    _follow(p, view)
    for i in range(20):  # more departures than the room remembers
        p.left(f"user{i:05d}", 5_000_000 + i)
    members, _, page = p.listing(_since(view), 1.0, 6_000_000)
    assert page.full
    _follow(p, view)
    assert set(view.members) == set(p.since)
    other = _room(5)  # the room loaded again: another origin
    other.log.origin += 1
    _, _, page = other.listing(_since(view), 1.0, 7_000_000)
    assert page.full


def test_away_and_back_are_changes() -> None:
    p, view = _room(3, grace=5.0), RoomPresence()
    _follow(p, view, now=1.0)
    assert not any(view.members.values())
    _follow(p, view, now=10.0)
    assert all(view.members.values())
    p.heard_from("user00001", 11.0, 8_000_000)
    _follow(p, view, now=11.0)
    assert view.members == {"user00000": True, "user00001": False, "user00002": True}


def test_a_request_without_a_version_gets_the_whole_list_only_while_small() -> None:
    old = chat_pb2.ChatRoom_MembersRequest()
    members, as_of, page = _room(10).listing(old, 1.0, 2_000_000)
    assert len(members) == 10 and as_of and page is None
    members, as_of, page = _room(10_000).listing(old, 1.0, 2_000_000)
    assert members == [] and as_of == 0 and page is None


def test_a_batch_out_of_turn_is_applied_by_newer_word_and_keeps_the_version() -> None:
    view = RoomPresence()
    view.paged(chat_pb2.MemberPage(version=10, origin=1, full=True, members=[chat_pb2.Member(user_name="a")]))
    view.paged(chat_pb2.MemberPage(version=30, origin=1, members=[chat_pb2.Member(user_name="b")]), in_turn=False)
    assert set(view.members) == {"a", "b"} and view.version == 10
