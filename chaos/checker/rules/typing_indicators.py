"""Typing indicators: never shown past the typist's last "typing" + its expiry + a tolerance; never stored.

An indicator is ephemeral: under faults it may be lost, but once the typist
stops, no member may show it longer than the expiry (plus ``TOLERANCE`` for
the receiver's timer and scheduling), even a push that arrived late. An
indicator shown with no "typing" sent before it is a violation too. And it
is never a chat message: every message the server holds was sent as one.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

import numpy

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule

TOLERANCE = 1.0       # s: the receiver's timer firing late under load
DEFAULT_EXPIRY = 3.0  # s: the node's --typing-expiry, when no reply said otherwise


@rule("typing", owns=("typing_shown", "typing_overstayed", "typing_stored"),
      kinds=("typing_overstayed", "typing_stored"), requires=("presence", "history_read"))
def typing(ev: Evidence) -> Finding:
    found = Finding()
    sent: defaultdict[tuple[str, str], list[float]] = defaultdict(list)  # (room, typist) -> typing invoke times
    told = [int(op.value["expires_ms"]) / 1000 for op in ev.presence.get("typing_sent", [])
            if op.type == "ok" and op.value.get("expires_ms")]
    expiry = max(told, default=DEFAULT_EXPIRY)
    for op in ev.presence.get("typing_sent", []):
        if op.type == "invoke":
            sent[(str(op.value.get("room", "")), op.process)].append(op.time)
    shown_count = overstayed = 0
    showing: dict[tuple[str, str, str], float] = {}  # (room, viewer, typist) -> shown since
    for op in ev.presence.get("typing", []):
        key = (str(op.value.get("room", "")), op.process, str(op.value.get("user", "")))
        if op.value.get("shown"):
            shown_count += 1
            showing.setdefault(key, op.time)
        elif key in showing:
            overstayed += _judge(found, key, showing.pop(key), op.time, sent, expiry, cleared=True)
    for key, since in showing.items():  # never cleared before the history ended
        overstayed += _judge(found, key, since, ev.duration, sent, expiry, cleared=False)
    stored = 0
    a = ev.arrays
    unsent: defaultdict[str, list[str]] = defaultdict(list)  # room -> what the server held that nobody sent
    for i in numpy.flatnonzero(a.held & ~a.sent).tolist():  # the few: not a lookup per message held
        unsent[a.keys[i][0]].append(a.keys[i][1])
    for room in ev.final_polls:
        for cmid in sorted(unsent.get(room, ())):
            stored += 1
            found.violation("typing_stored", f"the server holds {cmid!r} in {room}, which nobody sent as a "
                            "message", room, message=cmid)
    found.values.update(typing_shown=shown_count, typing_overstayed=overstayed, typing_stored=stored)
    return found


def _judge(found: Finding, key: tuple[str, str, str], since: float, until: float,
           sent: dict[tuple[str, str], list[float]], expiry: float, cleared: bool) -> int:
    room, viewer, typist = key
    times = sent.get((room, typist), [])
    if bisect.bisect_right(times, since) == 0:
        found.violation("typing_overstayed", f"{viewer} showed {typist} typing in {room} at {since:.3f} s, "
                        f"but {typist} had not typed", room, viewer)
        return 1
    last = times[bisect.bisect_right(times, until) - 1]  # the typist's last typing before it was cleared
    if until - last <= expiry + TOLERANCE:
        return 0
    how = f"until {until:.3f} s" if cleared else f"and never cleared it (the history ends at {until:.3f} s)"
    found.violation("typing_overstayed", f"{viewer} showed {typist} typing in {room} from {since:.3f} s {how}: "
                    f"{until - last:.2f} s after {typist}'s last typing, more than the expiry "
                    f"{expiry:g} s + {TOLERANCE:g} s", room, viewer)
    return 1
