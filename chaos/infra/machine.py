"""What a scenario needs of the machine it runs on, and the one line saying why it cannot run on this one.

Most scenarios run anywhere the harness installs. Those with ``network:
namespaces`` (or an IP-layer fault kind, which turns it on) need root,
``ip netns`` and nftables. ``pushchat chaos run --all`` runs every scenario
this machine can and lists the others as not run, each with that line;
naming one (or its group) on a machine that cannot run it is refused with
that line, before anything starts. Nothing falls back silently.
"""

from __future__ import annotations

from typing import Sequence

from chaos.faults.kinds import KINDS
from chaos.scenario.model import Scenario

_checked: dict[str, str] = {}  # need -> why not ("" when met): each is probed once per process


def needs_namespaces(scenario: Scenario) -> bool:
    """Does ``scenario`` run its servers in network namespaces (``network: namespaces``, or a net_* kind)?"""
    return scenario.topology.network == "namespaces" or any(KINDS[k].needs == "namespaces" for k in scenario.kinds)


def _namespaces_here() -> str:
    if "namespaces" not in _checked:
        from chaos.infra import netns

        try:
            netns.preflight()
            _checked["namespaces"] = ""
        except netns.NetworkUnavailable as exc:
            _checked["namespaces"] = str(exc)
    return _checked["namespaces"]


def why_not_here(scenario: Scenario) -> str | None:
    """The one line saying what this machine lacks for ``scenario``; None when it can run it."""
    if needs_namespaces(scenario):
        return _namespaces_here() or None
    return None


def split(scenarios: Sequence[Scenario]) -> tuple[list[Scenario], list[tuple[Scenario, str]]]:
    """(those this machine can run, [(one it cannot, why)]), in the given order."""
    runnable, not_here = [], []
    for scenario in scenarios:
        why = why_not_here(scenario)
        if why is None:
            runnable.append(scenario)
        else:
            not_here.append((scenario, why))
    return runnable, not_here


def refusal(not_here: Sequence[tuple[Scenario, str]]) -> str:
    """What a run refusing the named scenarios says: the line, and which scenarios it stops."""
    reasons = dict.fromkeys(why for _, why in not_here)
    return "; ".join(f"{', '.join(s.name for s, w in not_here if w == why)}: {why}" for why in reasons)
