"""The checker catches a real loss in a real run, not only in doctored histories.

Bob stops reading, so the gate drops his pushes (logged); before he can
poll them back, the node is SIGKILLed and restarts with an empty memory.
Those messages are gone for bob for good: the run must be judged invalid,
naming bob. (The same run without the kill is valid: see stalled-client.)
"""

from __future__ import annotations

import pytest

LOSS = """
name: loss-on-node-kill
topology: {nodes: 1, gates: 1, clients: [alice, bob], rooms: [General]}
workload: {duration: 5.0, rate: 50, senders: [alice], text_bytes: 4000}
recovery_wait: 3.0
faults:
  - {kind: stop_reading, target: client bob, start: 0.5, duration: 3.0}
  - {kind: kill, target: node 0, start: 2.5, duration: 0.5}
expect:
  verdict: invalid
  lost: "> 0"
  lost_by_server: "> 0"
  push_drops: "> 0"
"""


@pytest.mark.chaos
def test_messages_dropped_and_then_forgotten_by_the_node_are_reported_lost(chaos) -> None:
    result = chaos.run_yaml(LOSS)
    assert result.passed, result.explain()
    lost = [v for v in result.results.violations if v.kind == "lost"]
    assert lost and {v.member for v in lost} == {"bob"}, [v.reason for v in result.results.violations]
