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
from collections import defaultdict

import numpy

from chaos.checker.evidence import Evidence, Key, Send
from chaos.checker.rules.base import Finding, rule


@rule("recovery", owns=("shown_by_final_poll", "recovery_misses"), kinds=("recovery_missed",),
      requires=("history_read",))
def recovery(ev: Evidence) -> Finding:
    found = Finding()
    final = ev.phases.get("final_poll")
    late = 0
    if final is not None:
        a = ev.arrays
        for member in ev.showings:
            m = a.member(member)
            others = a.sent[m.fmsg] & (a.sender[m.fmsg] != a.person(member[1]))
            late += int(numpy.count_nonzero((m.ftime >= final) & others))
    reset = {(str(op.value.get("room", "")), op.process) for op in ev.history_resets}
    asks: defaultdict[Key, list[tuple[int, float, float]]] = defaultdict(list)  # member -> (reconnect, time, lost_at)
    for n, op in enumerate(ev.reconnects):
        ends = ev.link_down.get(op.process, [])
        i = bisect.bisect_left(ends, op.time)
        if i == 0:
            continue
        lost_at = ends[i - 1]
        for room in sorted(ev.acked_by_room):
            member = (room, op.process)
            joined = ev.joined.get(member)
            if joined is None or joined > lost_at or member in ev.left or member in ev.truncated or member in reset:
                continue
            asks[member].append((n, op.time, lost_at))
    missed = _missed(ev, asks)
    misses = 0
    for (n, room), (count, first) in sorted(missed.items()):
        op, lost_at = ev.reconnects[n], next(q[2] for q in asks[(room, ev.reconnects[n].process)] if q[0] == n)
        misses += count
        found.violation("recovery_missed", f"{op.process} said it had recovered at {op.time:.3f} s, yet had "
                        f"not shown {count} message(s) of {room} acknowledged before its link was down "
                        f"(last seen down at {lost_at:.3f} s) (first: {first.label})", room, op.process,
                        first.client_msg_id)
    found.values.update(shown_by_final_poll=late, recovery_misses=misses)
    return found


def _missed(ev: Evidence, asks: dict[Key, list[tuple[int, float, float]]]) -> dict[tuple[int, str], tuple[int, Send]]:
    """(reconnect, room) -> how many of the room's messages acknowledged before the link was down (sent by
    others since the member joined) it first showed only after it said it had recovered, and the first of
    them in send order. One member at a time, each question a vectorized scan of its first showings: a
    loop over every acknowledged message per reconnect was quadratic in a soak."""
    out: dict[tuple[int, str], tuple[int, Send]] = {}
    a = ev.arrays
    for member, questions in asks.items():
        room, who = member
        m = a.member(member)
        msg = m.fmsg
        invoked, where = a.invoke[msg], a.place[msg]
        keep = (where >= 0) & (a.sender[msg] != a.person(who)) & (invoked >= ev.joined[member])  # NaN: never
        if not keep.any():
            continue
        shown, acked, where = m.ftime[keep], a.ok[msg][keep], where[keep]
        sends = ev.acked_by_room[room]
        for n, at, lost_at in questions:
            hit = (shown > at) & (acked < lost_at)
            count = int(hit.sum())
            if count:
                out[(n, room)] = (count, sends[int(where[hit].min())])
    return out
