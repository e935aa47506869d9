"""The seed's manual test with real servers and sockets: push, no self-push, /messages recovers."""

from __future__ import annotations

from system.client import ChatClient
from tests.system.system_harness import Relay, Seen, capture_logs, cluster, wait_until


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
            # bob's client went away: routine, so INFO (WARNING is the server's own trouble), and counted
            assert {(e["reason"], e["level"]) for e in logs.events("push_dropped")} == {("client_not_found", "INFO")}
            assert c.gates[0].metrics.dropped.labels(reason="client_not_found")._value.get() == 2
            assert bob_seen.texts() == ["one"]
            polled = await bob.poll("General")  # a new connection through the relay
            assert [m.message for m in polled.messages] == ["two", "three"] and not polled.truncated
            assert bob_seen.shown[1:] == [("General", 2, "alice", "two", "poll"), ("General", 3, "alice", "three", "poll")]
            assert (await bob.poll("General")).messages == []
        finally:
            await relay.stop()
