"""One fuzz target under Hypothesis: its examples run, each outcome tallied, every property checked."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.fuzz.targets import Servers, Tally, Target

SETTINGS = dict(deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


def fuzz(target: Target, servers: Servers, examples: int, tally: Tally | None = None, check_every: int = 1) -> int:
    """Run ``examples`` inputs through ``target``; after each (every ``check_every``) the servers must still serve
    and keep what they stored. Returns how many ran; an AssertionError carries the shrunk failing input."""
    ran = 0

    @settings(max_examples=examples, **SETTINGS)  # type: ignore[arg-type]
    @given(target.strategy)
    def one(x: object) -> None:
        nonlocal ran
        outcome = target.check(servers, x)
        ran += 1
        if tally is not None:
            tally.add(target.name, outcome)
        if ran % check_every == 0:
            servers.still_serving()
            servers.nothing_lost()

    one()
    servers.still_serving()
    servers.nothing_lost()
    return ran
