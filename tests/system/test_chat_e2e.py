"""The seed's manual test with real servers and sockets: push, no self-push, /messages recovers."""

from __future__ import annotations

from google.protobuf import any_pb2

from system.client import ChatClient
from system.pb import chat_pb2
from system_harness import Relay, Seen, capture_logs, cluster, wait_until


async def test_alice_and_bob_chat_in_general_and_bob_gets_the_push() -> None:
    async with cluster() as c:
        alice, alice_seen = await c.client("alice")
        bob, bob_seen = await c.client("bob")
        assert await alice.list_rooms() == ["General", "Technology", "Crypto", "Sports", "Movies"]
        await alice.join("General")
        await bob.join("General")
        sent = await alice.send("General", "hello bob")
        assert (sent.seq, sent.duplicate) == (1, False)
        await wait_until(lambda: bob_seen.shown, 5.0, "bob to be pushed alice's message")
        assert bob_seen.shown == [("General", 1, "alice", "hello bob", "push")]
        reply = await bob.send("General", "hi alice")
        await wait_until(lambda: alice_seen.shown, 5.0, "alice to be pushed bob's message")
        assert alice_seen.shown == [("General", reply.seq, "bob", "hi alice", "push")]
        assert alice_seen.pushes == [("General", 2)]  # never her own message
        assert (await alice.poll("General")).messages == []  # nothing missed, own message not shown again


async def test_messages_missed_while_the_push_stream_is_down_come_back_by_poll() -> None:
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        try:
            alice, _ = await c.client("alice")
            bob_seen = Seen()  # the seed's client, which does not reconnect: tests/reconnect covers that
            bob = ChatClient(relay.addr, "bob", observers=[bob_seen], reconnect=False)
            await bob.connect()
            c.clients.append(bob)
            await bob.join("General")
            await alice.join("General")
            await alice.send("General", "one")
            await wait_until(lambda: bob_seen.texts() == ["one"], 5.0, "the first push")
            with capture_logs() as logs:
                relay.cut()  # bob's Register stream dies; bob is still a member
                await wait_until(lambda: bob_seen.ended, 5.0, "bob's stream to end")
                await alice.send("General", "two")
                await alice.send("General", "three")
                await wait_until(lambda: len(logs.events("push_dropped")) == 2, 5.0, "two dropped pushes")
            assert {e["reason"] for e in logs.events("push_dropped")} == {"client_not_found"}
            assert bob_seen.texts() == ["one"]
            polled = await bob.poll("General")  # a new connection through the relay
            assert [m.message for m in polled.messages] == ["two", "three"] and not polled.truncated
            assert bob_seen.shown[1:] == [("General", 2, "alice", "two", "poll"), ("General", 3, "alice", "three", "poll")]
            assert (await bob.poll("General")).messages == []
        finally:
            await relay.stop()


async def test_a_retried_send_is_shown_once_and_acknowledged_as_duplicate() -> None:
    async with cluster() as c:
        alice, _ = await c.client("alice")
        bob, bob_seen = await c.client("bob")
        await bob.join("Technology")
        first = await alice.send("Technology", "once", client_msg_id="m-1")
        again = await alice.send("Technology", "once", client_msg_id="m-1")
        assert again.duplicate and (again.seq, again.timestamp) == (first.seq, first.timestamp)
        await wait_until(lambda: bob_seen.shown, 5.0, "the push")
        await bob.poll("Technology")
        assert bob_seen.texts() == ["once"]


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
        carol._on_payload(packed)                 # ...and seq 5 arrives first: held, gap filled by poll
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
