"""What a chaos run, a check and a campaign exit with: the one place for those exit codes.

A scenario's outcome is its expectations, not the checker's verdict alone: a
scenario may expect ``verdict: invalid`` (a mutant must be caught) and then
meets its expectations with an invalid verdict. So the code comes from the
expectations, and the verdict only tells "failed" from "could not be judged".
Several scenarios (``--all``, a campaign's cells) get one code: not met wins
over not judged, which wins over met. README.md's table is this one (a test
checks it). A leaf: imported by the CLI, the runner and the campaign alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MET, NOT_MET, NOT_JUDGED, BAD_SCENARIO = 0, 1, 2, 3
NOT_HERE = 69       # sysexits.h EX_UNAVAILABLE: what a scenario needs is not on this machine
USAGE = 64          # the command line is wrong (sysexits.h EX_USAGE); argparse's 2 would read as "not judged"
INTERRUPTED = 130   # Ctrl-C, as a shell reports it

#: Every code ``pushchat chaos run|check|campaign`` exits with, and what it means.
MEANINGS: dict[int, str] = {
    MET: "every scenario met its expectations",
    NOT_MET: "some scenario did not meet its expectations",
    NOT_JUDGED: "none failed, but some could not be judged (verdict unknown, or the run broke off)",
    BAD_SCENARIO: "a scenario file is bad (every problem is listed with its file and field)",
    USAGE: "usage error: no command, an unknown command or option, no scenario named, a name or path "
           "that matches no scenario file, a folder that is not there or holds no run",
    NOT_HERE: "a scenario named (or in the group named) cannot run on this machine (network: namespaces "
              "without root, ip netns or nftables); one line says what is missing, and nothing ran. "
              "--all runs the others and lists these as not run, with that line, without failing",
    INTERRUPTED: "interrupted (Ctrl-C)",
}

_WORDS = {MET: "met", NOT_MET: "failed"}


def of_run(outcomes: Iterable[Any], verdict: str) -> int:
    """One judged run: MET when every expectation (an object with ``passed``) holds; when one fails,
    NOT_JUDGED if the checker could not decide (verdict ``unknown``), else NOT_MET."""
    if all(o.passed for o in outcomes):
        return MET
    return NOT_JUDGED if verdict == "unknown" else NOT_MET


def combined(codes: Iterable[int]) -> int:
    """One code for several runs: not met wins over not judged, which wins over met."""
    codes = list(codes)
    return NOT_MET if NOT_MET in codes else max(codes, default=MET)


def judged(code: int) -> int:
    """A run's code as a campaign counts it: anything but met or not met (a crash, a signal) is not judged."""
    return code if code in (MET, NOT_MET, NOT_JUDGED) else NOT_JUDGED


def word(code: int) -> str:
    """``met``, ``failed`` or ``not judged``: how reports name a run's code."""
    return _WORDS.get(code, "not judged")
