"""Both demos run as the README says, with no input, and end with a check; the check says what went wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chaos.demo import check_exactly_once


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
                 "recovered 5 message(s) by polling", "(by poll)"):
        assert step in told
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
