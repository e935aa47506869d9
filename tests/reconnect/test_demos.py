"""Both demos run as the README says, with no input, and end with a check; the check says what went wrong."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from pathlib import Path

import grpc

from chaos.cli.demo import BobsScreen, Narrator, Stage, check_exactly_once


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", "demo", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_the_reconnect_demo_tells_the_story_with_timestamps_and_its_check_passes(tmp_path: Path) -> None:
    done = demo("reconnect", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    *story, verdict, logs = done.stdout.splitlines()
    assert all(line.startswith("[+") for line in story)
    told = "\n".join(story)
    for step in ("FAULT: bob's link is reset", "bob's push stream broke", "failed", "next in", "HEAL:",
                 "recovered 5 messages", "(by join)"):  # the re-join's reply held the room's recent history
        assert step in told
    assert_told_in_causal_order(story)
    assert verdict.startswith("CHECK PASSED") and "exactly once, in order" in verdict
    assert logs == f"logs: {tmp_path}" and (tmp_path / "logs" / "gate0.1.log").exists()


def test_the_stall_demo_in_quiet_mode_prints_only_its_passing_check(tmp_path: Path) -> None:
    done = demo("stall", "--quiet", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    verdict, logs = done.stdout.splitlines()
    assert verdict.startswith("CHECK PASSED") and logs == f"logs: {tmp_path}"


def test_the_check_names_lost_duplicated_invented_and_reordered_messages() -> None:
    truth = [(1, "alice", "a"), (2, "alice", "b"), (3, "alice", "c")]
    assert check_exactly_once(truth, truth) == []
    problems = check_exactly_once([(2, "alice", "b"), (1, "alice", "a"), (1, "alice", "a"), (9, "eve", "x")], truth)
    assert problems == ["never shown: #3 'c'", "shown more than once: #1 'a'",
                        "shown but not in the room: #9 'x'", "shown out of order: seqs [2, 1, 1, 9]"]


def assert_told_in_causal_order(story: list[str]) -> None:
    """Each message is told stored by alice before bob is told to see it, and the clock never goes back."""
    stored = {int(m.group(1)): i for i, line in enumerate(story) if (m := re.search(r"stored as #(\d+)$", line))}
    seen = {int(m.group(1)): i for i, line in enumerate(story) if (m := re.search(r"bob sees #(\d+) ", line))}
    assert stored and seen.keys() <= stored.keys()
    assert all(stored[seq] < seen[seq] for seq in seen), "\n".join(story)
    times = [float(re.match(r"\[\+ *([\d.]+)s\]", line).group(1)) for line in story]  # type: ignore[union-attr]
    assert times == sorted(times)


async def test_bob_seeing_a_message_is_told_after_alice_sent_it_even_when_her_reply_comes_later(
        tmp_path: Path) -> None:
    out = io.StringIO()
    narrator = Narrator(out, quiet=False)
    screen = BobsScreen(narrator)
    async with Stage(narrator, tmp_path, screen) as stage:
        link = stage.topo.client_link("alice")  # type: ignore[union-attr]
        # alice's replies come 0.5 s late; bob's push does not wait for them
        await asyncio.to_thread(link.add_toxic, "latency", "downstream", {"latency": 500}, "slow_replies")
        await stage.send("hi bob")
        await stage.send("are you there?")
        await stage.wait_for_bob(2, 10.0)
    story = out.getvalue().splitlines()
    assert len([line for line in story if "bob sees #" in line]) == 2
    assert_told_in_causal_order(story)


def test_a_long_error_is_cut_at_a_word_boundary() -> None:
    out = io.StringIO()
    error = grpc.aio.AioRpcError(grpc.StatusCode.UNKNOWN, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                 "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:38611: "
                                 "Failed to connect to remote host: getsockopt(SO_ERROR): Connection refused "
                                 "while the demo was resetting every new connection on purpose")
    BobsScreen(Narrator(out, quiet=False)).on_reconnecting(2, error, 0.08)
    told = re.sub(r"^\[\+ *[\d.]+s\] ", "", out.getvalue().rstrip("\n"))
    why = re.fullmatch(r"bob: attempt 1 failed \((.*)\); next in 0\.08s", told).group(1)  # type: ignore[union-attr]
    assert why.endswith(" …") and len(why) <= 100
    assert error.details().rpartition("last error: ")[2].startswith(why[:-2] + " ")  # whole words only
