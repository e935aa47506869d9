"""With a durable store, an acknowledged message is never forgotten and a room's history never starts over.

``lost_by_server`` (acknowledged, yet not held at the final poll) and a
client's ``history_reset`` (the room answered with another store epoch, or
numbered from 1 again) are what a node that lost its data looks like. With
``store: memory`` they are what the scenario expects of a crash, so only
numbers; with a durable store (sqlite, postgres) each is a violation.
"""

from __future__ import annotations

from typing import Any, Mapping

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule

DURABLE_STORES = ("sqlite", "postgres")


@rule("durability", owns=("history_resets",), kinds=("lost_by_server", "history_reset"), needs=("lost_by_server",),
      requires=("seq",))
def durability(ev: Evidence, given: Mapping[str, Any]) -> Finding:
    found = Finding({"history_resets": len(ev.history_resets)})
    if ev.store not in DURABLE_STORES:
        return found
    lost = given["lost_by_server"]
    if lost:
        found.violation("lost_by_server", f"the {ev.store} store is durable, yet {lost} acknowledged message(s) "
                        "were gone from the server at the final poll")
    for op in ev.history_resets:
        room = str(op.value.get("room", ""))
        found.violation("history_reset", f"{op.process} found {room}'s history started over at {op.time:.3f} s, "
                        f"though the {ev.store} store is durable", room, op.process)
    return found
