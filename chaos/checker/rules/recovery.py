"""Recovery does its own job: a reconnected member has caught up, without waiting for the final poll.

Two measures, neither repaired by the final poll:

- ``recovery_missed``: a client says it reconnected (``reconnect`` ok) only
  after it registered again, re-joined and polled every room. So each
  message acknowledged before its last attempt began (the ``reconnect``
  invoke before the backoff that preceded it, or the stream's end) must be
  shown by then, whether or not a later push would have revealed the gap.
  Rooms whose history was trimmed past the member's cursor, or started
  over, are not judged.
- ``shown_by_final_poll``: messages members first showed at the final poll,
  that is, not within the recovery wait. A number; a scenario that expects
  recovery to finish first says ``shown_by_final_poll: 0``.
"""

from __future__ import annotations

import bisect

from chaos.checker.evidence import Evidence, Key
from chaos.checker.rules.base import Finding, rule


@rule("recovery", owns=("shown_by_final_poll", "recovery_misses"), kinds=("recovery_missed",),
      requires=("history_read",))
def recovery(ev: Evidence) -> Finding:
    found = Finding()
    final = ev.phases.get("final_poll")
    first_shown: dict[Key, dict[Key, float]] = {}
    late = 0
    for member, showings in ev.showings.items():
        first_shown[member] = {d.key: d.time for d in showings.first}
        if final is not None:
            late += sum(1 for d in showings.first if d.time >= final and d.send is not None
                        and d.send.sender != member[1])
    reset = {(str(op.value.get("room", "")), op.process) for op in ev.history_resets}
    misses = 0
    for op in ev.reconnects:
        ends = ev.link_down.get(op.process, [])
        i = bisect.bisect_left(ends, op.time)
        if i == 0:
            continue
        lost_at = ends[i - 1]
        for room, sends in sorted(ev.acked_by_room.items()):
            member = (room, op.process)
            joined = ev.joined.get(member)
            if joined is None or joined > lost_at or member in ev.left or member in ev.truncated or member in reset:
                continue
            shown = first_shown.get(member, {})
            missed = [s for s in sends if s.sender != op.process and s.invoke is not None and s.invoke >= joined
                      and s.ok is not None and s.ok < lost_at and shown.get((room, s.client_msg_id), -1.0) > op.time]
            if missed:
                misses += len(missed)
                found.violation("recovery_missed", f"{op.process} said it had recovered at {op.time:.3f} s, yet had "
                                f"not shown {len(missed)} message(s) of {room} acknowledged before its link was down "
                                f"(last seen down at {lost_at:.3f} s) (first: {missed[0].label})", room, op.process,
                                missed[0].client_msg_id)
    found.values.update(shown_by_final_poll=late, recovery_misses=misses)
    return found
