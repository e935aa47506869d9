"""What recovery cannot or need not do the simple way, with real processes: trimmed history, a node that restarted."""

from __future__ import annotations

from pathlib import Path

from chaos.infra.links import Links
from tests.reconnect.reconnect_harness import chat, in_thread, room_history
from tests.system.system_harness import capture_logs, wait_until


async def test_when_the_history_it_missed_was_trimmed_the_client_says_it_could_not_fully_recover(
        chaos_links: Links, tmp_path: Path) -> None:
    async with chat(chaos_links, tmp_path, node_args=("--history-limit", "5")) as c:
        await c.client("alice")
        bob = await c.client("bob")
        await c.send_all("alice", ["m1", "m2"])
        await c.wait_shown("bob", 2)
        link = c.link("bob")
        with capture_logs() as logs:
            await in_thread(link.disable)
            await wait_until(lambda: not bob.connected, 10.0, "bob to lose his link")
            await c.send_all("alice", [f"m{i}" for i in range(3, 13)])  # the room keeps m8..m12
            await in_thread(link.enable)
            await wait_until(lambda: c.seen["bob"].reconnected, 15.0, "bob to reconnect")
        seen = c.seen["bob"]
        assert seen.incomplete == [("General", 8, 2)]  # m3..m7 are gone
        [line] = logs.events("recovery_incomplete")
        assert (line["level"], line["room"], line["first_available_seq"], line["cursor"]) == ("WARNING", "General", 8, 2)
        assert [text for _, _, text in seen.shown_in("General")] == ["m1", "m2", "m8", "m9", "m10", "m11", "m12"]
        assert seen.reconnected[-1][1] == 5 and bob.rooms["General"].truncated
        await c.send_all("alice", ["m13"])  # and it goes on from what is there
        await c.wait_shown("bob", 8)
        assert seen.shown_in("General")[-1] == (13, "alice", "m13")


async def test_a_node_restarted_on_its_data_goes_on_numbering_and_pushing_at_once(
        chaos_links: Links, tmp_path: Path) -> None:
    async with chat(chaos_links, tmp_path) as c:
        alice = await c.client("alice")
        await c.client("bob", sync_interval=None)  # no silence checks: only the stored membership can bring pushes
        await c.send_all("alice", ["one", "two", "three"])
        await c.wait_shown("bob", 3)
        with capture_logs() as logs:
            await c.topo.restart("node0")  # SIGKILL, then the same data folder
            after = await alice.send("General", "after the restart")  # the gate routes once its stream is back
            assert (after.seq, after.duplicate) == (4, False)
            await c.wait_shown("bob", 4)
        assert c.seen["alice"].resets == [] and c.seen["bob"].resets == [] and not logs.events("history_reset")
        assert c.seen["bob"].sources(["after the restart"]) == {"push"}
        assert c.seen["bob"].shown_in("General") == [(1, "alice", "one"), (2, "alice", "two"),
                                                    (3, "alice", "three"), (4, "alice", "after the restart")]
        assert await room_history(c.topo.client_addr("bob"), "General") == c.seen["bob"].shown_in("General")


async def test_after_a_memory_node_restarts_clients_follow_the_new_history_and_are_pushed_again(
        chaos_links: Links, tmp_path: Path) -> None:
    async with chat(chaos_links, tmp_path, store="memory") as c:
        alice = await c.client("alice")
        await c.client("bob")
        await c.send_all("alice", ["one", "two", "three"])
        await c.wait_shown("bob", 3)
        with capture_logs() as logs:
            await c.topo.restart("node0")  # a new epoch: rooms, seqs and members are gone; the gate's streams are not
            first = await alice.send("General", "after the restart")  # waits for the gate to reach the node
            assert first.seq == 1 and not first.duplicate
            await wait_until(lambda: c.seen["bob"].resets, 10.0, "bob's silence check to find the new history")
            await c.wait_shown("bob", 4)
            await alice.send("General", "pushed again")
            await c.wait_shown("bob", 5)
        assert c.seen["alice"].resets == ["General"] and c.seen["bob"].resets == ["General"]
        assert {(e["user"], e["room"]) for e in logs.events("history_reset")} == {("alice", "General"),
                                                                                 ("bob", "General")}
        assert c.seen["bob"].shown_in("General") == [(1, "alice", "one"), (2, "alice", "two"), (3, "alice", "three"),
                                                    (1, "alice", "after the restart"), (2, "alice", "pushed again")]
        assert c.seen["bob"].sources(["pushed again"]) == {"push"}  # bob is a member of the new room
        assert await room_history(c.topo.client_addr("bob"), "General") == c.seen["bob"].shown_in("General")[3:]
