"""Catching up: a gap is filled by a poll, a poll pages and says what was trimmed, a stalled reader recovers."""

from __future__ import annotations

import asyncio

from google.protobuf import any_pb2

from system.client import ChatClient
from system.grpcopts import DEFAULT_KEEPALIVE
from system.pb import chat_pb2
from system.presence import PresenceConfig
from tests.system.system_harness import FAST, Recorder, Relay, Seen, capture_logs, cluster, wait_until

KEEPALIVE_NOTICES = (DEFAULT_KEEPALIVE.time_ms + DEFAULT_KEEPALIVE.ping_timeout_ms) / 1000


async def test_a_push_that_follows_a_lost_one_is_held_until_a_poll_fills_the_gap() -> None:
    async with cluster() as c:
        alice, _ = await c.client("alice")
        carol, carol_seen = await c.client("carol")
        await carol.join("Sports")
        for text in ("one", "two", "three"):
            await alice.send("Sports", text)
        await wait_until(lambda: len(carol_seen.shown) == 3, 5.0, "three pushes")
        # Replay what the gate would push for seq 5 while seq 4 is lost on the way.
        await alice.send("Sports", "four")
        await alice.send("Sports", "five")
        await wait_until(lambda: len(carol_seen.shown) == 5, 5.0, "five pushes")
        carol.rooms["Sports"].cursor = 3          # forget seq 4 and 5, as if both pushes had been lost...
        carol.rooms["Sports"].seen.clear()
        del carol_seen.shown[3:]
        five = (await alice.poll("Sports")).messages  # the stored messages, as the server would push them
        note = chat_pb2.Client_NewMessageNotification(message=five[-1])
        packed = any_pb2.Any()
        packed.Pack(note)
        carol._catch_up.on_payload(packed)        # ...and seq 5 arrives first: held, gap filled by poll
        await wait_until(lambda: len(carol_seen.shown) == 5, 5.0, "the gap to be filled")
        assert [(s[1], s[3], s[4]) for s in carol_seen.shown[3:]] == [(4, "four", "poll"), (5, "five", "poll")]


async def test_poll_pages_through_what_was_missed_and_says_when_history_is_gone() -> None:
    async with cluster(node={"history_limit": 4}) as c:
        alice, _ = await c.client("alice")
        seen = Seen()
        bob = ChatClient(c.gates[0].addr, "bob", observers=[seen], page_size=2)
        c.clients.append(bob)  # poll-only: bob never registers a push stream
        await bob.join("Crypto")
        await alice.send("Crypto", "m1")
        await alice.send("Crypto", "m2")
        got = await bob.poll("Crypto")
        assert [m.message for m in got.messages] == ["m1", "m2"] and not got.truncated
        for i in range(3, 9):
            await alice.send("Crypto", f"m{i}")  # the room keeps m5..m8; m3 and m4 are gone
        got = await bob.poll("Crypto")
        assert got.truncated and got.first_available_seq == 5 and got.last_seq == 8
        assert [m.message for m in got.messages] == ["m5", "m6", "m7", "m8"]  # two pages of two
        assert seen.texts() == ["m1", "m2", "m5", "m6", "m7", "m8"] and bob.rooms["Crypto"].truncated


async def test_a_client_that_stops_reading_overflows_its_gate_buffer_keeps_its_link_and_recovers() -> None:
    async with cluster() as c:
        alice = ChatClient(c.gates[0].addr, "alice", **FAST)
        seen = Recorder()
        bob = ChatClient(c.gates[0].addr, "bob", observers=[seen], push_window=1024, **FAST)
        c.clients += [alice, bob]
        await bob.connect()
        await bob.join("General")
        bob.stop_reading()
        with capture_logs() as logs:
            sent = 0
            while not logs.events("push_dropped"):
                assert sent < 500, "the gate never dropped a push for the stalled reader"
                await alice.send("General", f"m{sent + 1}")  # every send succeeds
                sent += 1
            await alice.send("General", "last")
            sent += 1
            await asyncio.sleep(KEEPALIVE_NOTICES + 0.5)  # long enough for keepalive to tear down a dead link
            assert bob.connected and bob.reconnects == 0 and not logs.events("stream_lost")
            assert seen.shown_in("General") == []
            bob.resume_reading()
            await wait_until(lambda: len(seen.shown_in("General")) == sent, 10.0, "bob to catch up")
        assert {e["reason"] for e in logs.events("push_dropped")} == {"client_buffer_full"}
        assert [text for _, _, text in seen.shown_in("General")] == [f"m{i}" for i in range(1, sent)] + ["last"]
        assert [seq for seq, _, _ in seen.shown_in("General")] == list(range(1, sent + 1))
        assert {"push", "poll"} <= {s[4] for s in seen.shown}  # what the gate dropped came back by poll


class _Polls:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def on_poll(self, room: str, after_seq: int, reason: str) -> None:
        self.reasons.append(reason)


async def test_a_heartbeat_stands_for_the_silence_poll_and_still_finds_a_lost_last_push() -> None:
    """Thousands of members of a quiet room made two periodic calls each (heartbeat and silence poll):
    the heartbeat's reply tells the room's last seq, so a member that beats makes no silence polls,
    and one whose last push was lost still gets it."""
    async with cluster() as c:
        alice, _ = await c.client("alice")
        polls = _Polls()
        carol, seen = await c.client("carol", observers=(polls,), sync_interval=2.0, presence_interval=0.2)
        await carol.join("Sports")
        await alice.send("Sports", "one")
        await wait_until(lambda: seen.texts() == ["one"], 5.0, "the push")
        beats: list[str] = []
        call = carol._calls.call

        async def counted(type_, object_id, method, *args, **kwargs):
            beats.append(method)
            return await call(type_, object_id, method, *args, **kwargs)

        carol._calls.call = counted  # type: ignore[method-assign]
        # a quiet room for 25 heartbeats at 0.2 s: 2.5 silence intervals or more
        await wait_until(lambda: beats.count("Members") >= 25, 30.0, "25 heartbeats")
        assert polls.reasons == []
        carol.rooms["Sports"].cursor = 0  # forget seq 1, as if its push had been lost...
        del seen.shown[:]
        await wait_until(lambda: seen.texts("poll") == ["one"], 10.0, "the heartbeat to find the lost push")
        assert polls.reasons == ["silence"]


async def test_a_rejoin_whose_reply_reaches_back_to_the_cursor_shows_what_was_missed_without_a_poll() -> None:
    """After its gates died, every member of a room of 2,000 re-joined and then polled: two calls each on one
    starved node. The join's reply holds the room's recent history; reaching back to the cursor, it shows the
    missed messages itself, and the poll is left out."""
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        try:
            alice, _ = await c.client("alice")
            polls, seen = _Polls(), Recorder()
            bob, _ = await c.client("bob", server=relay.addr, observers=(seen, polls),
                                       **{**FAST, "sync_interval": None, "presence_interval": None})
            await bob.join("General")
            for text in ("one", "two", "three"):
                await alice.send("General", text)
            await wait_until(lambda: seen.texts() == ["one", "two", "three"], 5.0, "the pushes")
            view = bob.rooms["General"]
            view.cursor, view.anchor = 1, None  # two and three lost on the way, as in an outage...
            del seen.shown[1:]
            relay.cut()  # ...and the stream ends: bob re-registers and recovers
            await wait_until(lambda: bob.reconnects == 1, 10.0, "bob to reconnect")
            assert seen.texts() == ["one", "two", "three"] and seen.sources(["two", "three"]) == {"join"}
            assert polls.reasons == [] and seen.reconnected[-1][1] == 2
        finally:
            await relay.stop()


def _count_calls(client: ChatClient) -> list[str]:
    """The methods ``client`` calls from now on, in order."""
    made: list[str] = []
    call = client._calls.call

    async def counted(type_, object_id, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(method)
        return await call(type_, object_id, method, *args, **kwargs)

    client._calls.call = counted  # type: ignore[method-assign]
    return made


async def test_a_member_of_a_room_that_asks_for_slower_heartbeats_beats_and_polls_that_much_less() -> None:
    """2,000 members beating every 5 s were 400 calls a second on one node: a big room advises a longer
    interval in its replies (``heartbeat_ms``), and its members' heartbeats and silence polls keep to it."""
    rate = PresenceConfig(heartbeat_rate=0.2)  # a room asks for longer than the usual 5 s past 1 member
    async with cluster(node={"presence": rate}) as c:
        alice, _ = await c.client("alice")
        await alice.join("General")
        fast = {"sync_interval": 0.1, "presence_interval": 0.1}
        bob, _ = await c.client("bob", **fast)
        carol, _ = await c.client("carol", **fast)
        await bob.join("General")    # 2 members: beats every 10 s, please
        await carol.join("Sports")   # alone: her own 0.1 s
        assert (bob.rooms["General"].beat_every, carol.rooms["Sports"].beat_every) == (10.0, 0.0)
        bob_calls, carol_calls = _count_calls(bob), _count_calls(carol)
        await wait_until(lambda: carol_calls.count("Members") >= 10, 30.0, "carol's 10 heartbeats")
        assert len(bob_calls) <= 2  # in the time carol beat 10 times, bob beat once at most (twice: one in flight)
