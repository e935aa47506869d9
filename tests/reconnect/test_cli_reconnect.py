"""``pushchat client`` through an outage of its link: what it tells its user, piped and on a terminal."""

from __future__ import annotations

import re
from pathlib import Path

from chaos.infra.links import Link, Links
from tests.reconnect.reconnect_harness import in_thread
from system import log
from tests.system.system_harness import cluster, wait_until
from tests.system.cli_process import Proc
from tests.system.terminal import Tty


def attempts(log_file: Path) -> list[int]:
    """The attempt numbers the client logged a ``reconnect_wait`` for, in order."""
    return [e["attempt"] for e in log.read(str(log_file)) if e.get("event") == "reconnect_wait"]


async def outage(link: Link, log_file: Path, at_least: int) -> None:
    """Refuse the client's connections until it has scheduled ``at_least`` reconnection attempts."""
    await in_thread(link.disable)
    await wait_until(lambda: len(attempts(log_file)) >= at_least, 30.0, f"{at_least} reconnection attempts")


async def test_piped_the_cli_tells_an_outage_in_a_few_lines_and_says_when_it_is_back(chaos_links: Links,
                                                                                      tmp_path: Path) -> None:
    async with cluster() as c:
        link = await in_thread(chaos_links.create, f"cli-{id(c):x}", c.gates[0].addr)
        try:
            alice, alice_seen = await c.client("alice")
            await alice.join("General")
            log_file = tmp_path / "bob.log"
            bob = await Proc.start("client", "--server", link.listen, "--user", "bob", "--log-file", str(log_file),
                                   stdin=True)
            await bob.expect(r"^\* connected to ", 20.0)
            bob.type("/join General")
            await bob.expect(r"^\* joined General")
            await alice.send("General", "before")
            await bob.expect(r"alice: before$")
            await outage(link, log_file, 8)
            await alice.send("General", "while you were away")
            await alice.send("General", "and this")
            await in_thread(link.enable)
            final = await bob.expect(r"^\* reconnected after ", 20.0)
            bob.type("hello again")  # sent over the new connection
            await bob.expect(r"alice: and this$")
            bob.type("/quit")
            assert await bob.finish(sig=None) == 0
        finally:
            await in_thread(link.delete)
        tried = attempts(log_file)
        [back] = [e for e in log.read(str(log_file)) if e.get("event") == "reconnected"]
        assert final == f"* reconnected after {final.split()[3]} ({back['attempt']} attempts); recovered 2 messages"
        told = [line for line in bob.lines if line.startswith("* ") and "General" not in line][1:]
        assert re.fullmatch(r"\* connection lost \([a-z ]+\); reconnecting…", told[0])  # in a few words
        assert told[-1] == final
        statuses = told[1:-1]
        assert [int(re.search(r"attempt (\d+) in", s).group(1)) for s in statuses] == [  # type: ignore[union-attr]
            a for a in tried if a & (a - 1) == 0]  # 2, 4, 8, …: far fewer lines than attempts
        assert all(re.fullmatch(r"\* reconnecting: attempt \d+ in \d+\.\ds \(connection refused; down [\d.]+s\)", s)
                   for s in statuses)
        assert bob.chat() == [("alice", "before"), ("alice", "while you were away"), ("alice", "and this")]
        await wait_until(lambda: alice_seen.texts() == ["hello again"], 5.0, "bob's message to reach alice")


async def test_on_a_terminal_an_outage_is_one_status_line_above_the_prompt_and_what_was_typed(
        chaos_links: Links, tmp_path: Path) -> None:
    async with cluster() as c:
        link = await in_thread(chaos_links.create, f"tty-{id(c):x}", c.gates[0].addr)
        try:
            alice, alice_seen = await c.client("alice")
            await alice.join("General")
            log_file = tmp_path / "bob.log"
            bob = await Tty.start("client", "--server", link.listen, "--user", "bob", "--log-file", str(log_file))
            await bob.shows(r"^\* connected to ", 20.0)
            await bob.prompt()
            await bob.join("General")
            bob.keys("hel")
            await bob.prompt("hel")
            await outage(link, log_file, 5)
            await bob.shows(r"^\* reconnecting: attempt ([5-9]|\d\d+) ")
            await bob.prompt("hel")
            rows = bob.screen.rows
            assert [r for r in rows if "connection" in r or "reconnect" in r] == [rows[-2]]  # updated in place
            assert re.fullmatch(r"\* reconnecting: attempt \d+ in \d+\.\ds \(connection refused; down [\d.]+s\)",
                                rows[-2])
            await alice.send("General", "while you were away")
            await in_thread(link.enable)
            await bob.shows(r"^\* reconnected after [\d.]+s \(\d+ attempts\); recovered 1 message$", 20.0)
            await bob.prompt("hel")
            rows = bob.screen.rows
            assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] alice: while you were away", rows[-3])
            assert rows[-2].startswith("* reconnected after ")
            assert not any("reconnecting" in r or "connection lost" in r for r in rows)  # the status was replaced
            bob.keys("lo\r")
            await wait_until(lambda: alice_seen.texts() == ["hello"], 10.0, "bob's message to reach alice")
            await bob.prompt()
            assert [r for r in bob.screen.rows if r.startswith(">")] == ["> /join General", "> hello", ">"]
            assert await bob.finish() == 0
        finally:
            if bob.proc.returncode is None:
                bob.proc.kill()
            await in_thread(link.delete)
