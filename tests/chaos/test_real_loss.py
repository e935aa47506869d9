"""The checker catches a real loss in a real run, not only in doctored histories.

The story is scenario ``crash-after-stall``: bob stops reading, so the gate
drops his pushes (logged); before he can poll them back, the node is
SIGKILLed and restarted. With the default durable store bob polls every one
back (the scenario's own test). Run with ``store: memory``, the restarted
node has forgotten them: they are gone for bob for good, and the run must
be judged invalid, naming bob.
"""

from __future__ import annotations

import dataclasses

import pytest

from chaos.scenario.model import Expectation
from chaos.scenario.files import find


@pytest.mark.chaos
def test_messages_dropped_and_then_forgotten_by_a_memory_node_are_reported_lost(chaos) -> None:
    story = find("crash-after-stall")
    forgetful = dataclasses.replace(
        story, topology=dataclasses.replace(story.topology, store="memory"),
        expect=(Expectation("verdict", "==", "invalid"), Expectation("lost", ">", 0),
                Expectation("lost_by_server", ">", 0), Expectation("push_drops", ">", 0)))
    result = chaos.run(forgetful)
    assert result.passed, result.explain()
    lost = [v for v in result.results.violations if v.kind == "lost"]
    assert lost and {v.member for v in lost} == {"bob"}, [v.reason for v in result.results.violations]
