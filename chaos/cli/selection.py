"""Which scenarios a `pushchat chaos` command names: by name or file, by group; shared by `run`, `campaign` and
`compare` (their own module, so neither command imports the other)."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from chaos.scenario.files import ScenarioError, UnknownScenario, find, in_group, read_scenarios
from chaos.scenario.model import Scenario


class UsageError(Exception):
    """The command line asks for something that is not there; exit outcome.USAGE."""


def in_named_group(group: str) -> list[Scenario]:
    scenarios = read_scenarios()
    chosen = in_group(scenarios, group)
    if not chosen:
        known = sorted({g for s in scenarios for g in s.groups})
        raise UsageError(f"no scenario is in group {group!r}; groups: {', '.join(known) or 'none'}")
    return chosen


def named(names: Sequence[str]) -> list[Scenario]:
    twice = [name for name, n in Counter(names).items() if n > 1]
    if twice:
        raise UsageError(f"{', '.join(twice)}: named twice (each scenario gets one output folder)")
    scenarios, unknown, problems = [], [], []
    for name in names:  # report every bad name and file, not only the first
        try:
            scenarios.append(find(name))
        except UnknownScenario as exc:
            unknown.append(str(exc))
        except ScenarioError as exc:
            problems += exc.problems
    if unknown:
        raise UsageError("\n".join(unknown))
    if problems:
        raise ScenarioError.of(problems)
    return scenarios
