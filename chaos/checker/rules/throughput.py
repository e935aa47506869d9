"""How many of the sends made were acknowledged: liveness per send, which timing does not decide.

A count of acknowledged sends depends on the machine's speed; the share of
sends made that ended acknowledged does not. A store that fails writes, or
a node that restarts, costs a healthy system retries, not sends: each
"maybe stored" send is settled by its retry (answered "duplicate" when it
was stored). A room that forgot its dedup window leaves such sends
indefinite, so ``sends_ok_share`` falls (seen 0.71 against 1.0).
"""

from __future__ import annotations

from typing import Any, Mapping

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule


@rule("throughput", owns=("sends_ok_share",), needs=("sends_ok", "sends_failed", "sends_indefinite"))
def throughput(ev: Evidence, given: Mapping[str, Any]) -> Finding:
    made = given["sends_ok"] + given["sends_failed"] + given["sends_indefinite"]
    return Finding(values={"sends_ok_share": round(given["sends_ok"] / made, 4) if made else None})
