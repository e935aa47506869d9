"""Every fuzz target, briefly, with the suite: a clear error for any input, no crash, still serving,
nothing stored lost. The servers start once for the module; the long run is ``python -m tests.fuzz``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.run import fuzz
from tests.fuzz.targets import BY_NAME, Servers, Tally

EXAMPLES = 25


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    started = Servers().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("name", list(BY_NAME))
def test_fuzz_target(servers: Servers, name: str) -> None:
    tally = Tally()
    assert fuzz(BY_NAME[name], servers, EXAMPLES, tally) > 0
    assert sum(tally.counts[name].values()) > 0


def test_a_broken_property_is_found_and_shrunk(servers: Servers) -> None:
    """The harness can fail: a target whose check rejects any refusal is caught, with a shrunk input."""
    from dataclasses import replace

    def strict(s: Servers, x: object) -> str:
        outcome = BY_NAME["gate Create/DeleteObject"].check(s, x)
        assert outcome == "OK", "refused"
        return outcome

    target = replace(BY_NAME["gate Create/DeleteObject"], check=strict)
    with pytest.raises(AssertionError, match="refused"):
        fuzz(target, servers, 5)
