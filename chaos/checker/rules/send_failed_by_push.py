"""No send fails because a push failed: push is best effort, the send's outcome is the store's.

Evidence from both ends: a client's send that ended ``fail`` or ``info``
(a push failure surfacing as ``INTERNAL`` is indefinite: it may have been
stored) with a push failure in its error, and a node's ``call_failed`` line
for a ``SendMessage`` call with one in its error. Each send counts once: a
node's lines in a room stand for the sends the clients already blamed on a
push there, and only those beyond them (a call retried to success, say)
count on their own. The reason names are the system's own
(``system.contract``).
"""

from __future__ import annotations

import re

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from system.contract import PUSH_FAILURE_REASONS, ROOM_PREFIX

#: Push failure reasons (node, then gate) as the system names them in its logs and counters.
PUSH_REASONS: tuple[str, ...] = PUSH_FAILURE_REASONS
#: What in a send's error means a push failure leaked into the send.
PUSH_ERROR = re.compile("|".join(PUSH_REASONS) + r"|\bpush(?!chat)", re.IGNORECASE)


@rule("send_failed_by_push", owns=("sends_failed_by_push",), kinds=("send_failed_by_push",))
def send_failed_by_push(ev: Evidence) -> Finding:
    found = Finding()
    blamed: dict[str, int] = {}  # room -> sends the clients saw fail because of a push
    seen: set[tuple[str, str]] = set()
    for send, op in ev.send_failures:
        error = op.value.get("error", "")
        if PUSH_ERROR.search(str(error)) and (send.room, send.client_msg_id) not in seen:
            seen.add((send.room, send.client_msg_id))
            blamed[send.room] = blamed.get(send.room, 0) + 1
            found.violation("send_failed_by_push", f"send {send.label} in {send.room} failed ({op.type}) because "
                            f"of a push: {op.value.get('error')!r}", send.room, op.process, send.client_msg_id)
    for process in sorted(ev.logs):
        for line in ev.log_lines(process, "call_failed"):
            if line.get("method") == "SendMessage" and PUSH_ERROR.search(str(line.get("error", ""))):
                room = str(line.get("id", "")).removeprefix(ROOM_PREFIX)
                if blamed.get(room):
                    blamed[room] -= 1  # the same send, already counted from the client's side
                    continue
                found.violation("send_failed_by_push", f"{process} failed a SendMessage call because of a push: "
                                f"{line.get('error')!r}", room or None)
    found.values["sends_failed_by_push"] = len(found.violations)
    return found
