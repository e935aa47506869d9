"""``pushchat client`` tells its user when it reconnects and how many messages it recovered."""

from __future__ import annotations

from chaos.links import Links
from reconnect_harness import in_thread
from system_harness import cluster, wait_until
from test_cli import Proc


async def test_the_cli_says_reconnecting_then_reconnected_with_the_recovered_count(links: Links) -> None:
    async with cluster() as c:
        link = await in_thread(links.create, f"cli-{id(c):x}", c.gates[0].addr)
        try:
            alice, alice_seen = await c.client("alice")
            await alice.join("General")
            bob = await Proc.start("client", "--server", link.listen, "--user", "bob", stdin=True)
            await bob.expect(r"^\* connected to ", 20.0)
            bob.type("/join General")
            await bob.expect(r"^\* joined General")
            await alice.send("General", "before")
            await bob.expect(r"alice: before$")
            await in_thread(link.disable)
            await bob.expect(r"^\* connection lost \(.*\); reconnecting…$")
            await bob.expect(r"^\* reconnecting… \(attempt 2 in \d+\.\ds: ")
            await alice.send("General", "while you were away")
            await alice.send("General", "and this")
            await in_thread(link.enable)
            await bob.expect(r"^\* reconnected, recovered 2 messages$")
            bob.type("hello again")  # sent over the new connection
            await bob.expect(r"alice: and this$")
            bob.type("/quit")
            assert await bob.finish(sig=None) == 0
            assert bob.chat() == [("alice", "before"), ("alice", "while you were away"), ("alice", "and this")]
            await wait_until(lambda: alice_seen.texts() == ["hello again"], 5.0, "bob's message to reach alice")
        finally:
            await in_thread(link.delete)
