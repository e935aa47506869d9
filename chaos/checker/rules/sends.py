"""Every send's outcome, and what became of it on the server.

A send recorded ``fail`` promises it did not happen: one that turns up
(shown by a member or held at the final poll) is a violation, so anything
that may have happened must be recorded ``info``. Indefinite sends are
counted, and those that appeared counted apart. An acknowledged send the
server no longer holds at the final poll is ``lost_by_server``: a number a
scenario can bound (a restarted node forgets), not a violation here; n/a for
a system whose rooms cannot be read (Goverse's). A room keeps its last
``history_limit`` messages (the setup record says how many): one acknowledged
at a seq that many behind the room's last at the final poll was trimmed by
design, not lost (an hour's soak of 20 rooms sent 356,220).
"""

from __future__ import annotations

import numpy

from chaos.checker import systems
from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule


@rule("sends", owns=("sends_ok", "sends_failed", "sends_indefinite", "sends_indefinite_appeared",
                     "sends_failed_appeared", "lost_by_server"), kinds=("failed_send_appeared",))
def sends(ev: Evidence) -> Finding:
    found = Finding()
    n = dict.fromkeys(("sends_ok", "sends_failed", "sends_indefinite", "sends_indefinite_appeared",
                       "sends_failed_appeared", "lost_by_server"), 0)
    a = ev.arrays
    held = a.held
    polled = numpy.zeros(len(a.room_names), bool)
    polled[[a.room_ids[room] for room in ev.final_polls if room in a.room_ids]] = True
    ok = a.acked[a.send_order]
    n["sends_ok"] = int(ok.sum())
    acked = a.send_order[ok]
    n["lost_by_server"] = int(numpy.count_nonzero(polled[a.room[acked]] & ~held[acked] & ~_trimmed(ev, acked)))
    unacked = a.send_order[~ok].tolist()  # the few, in send order
    appeared = (a.shown() | held)[unacked].tolist() if unacked else []
    for i, seen in zip(unacked, appeared):
        key = a.keys[i]
        send = ev.sends[key]
        if send.outcome == "info":
            n["sends_indefinite"] += 1
            n["sends_indefinite_appeared"] += seen
        else:
            n["sends_failed"] += 1
            if seen:
                n["sends_failed_appeared"] += 1
                found.violation("failed_send_appeared", f"send {send.label} in {key[0]} failed definitely, yet it "
                                "was stored (a failure that may have happened must be recorded as info)",
                                key[0], send.sender, key[1])
    found.values.update(n)
    lacking = systems.missing(ev.system, ("history_read",))
    if lacking:  # no final poll: nothing held to compare with, so not a silent 0
        del found.values["lost_by_server"]
        found.not_applicable["lost_by_server"] = systems.reason(ev.system, lacking)
    return found


def _trimmed(ev: Evidence, acked: numpy.ndarray) -> numpy.ndarray:
    """Per acknowledged message: whether its room's history limit had trimmed it by the final poll."""
    a, limit = ev.arrays, ev.history_limit
    if not limit or not len(acked):
        return numpy.zeros(len(acked), bool)
    polled = a.polled_rows
    last = numpy.zeros(len(a.room_names), numpy.int64)  # each room's last seq its final polls saw
    numpy.maximum.at(last, a.room[a.numbered_msg[polled]], a.numbered_seq[polled])
    seq = numpy.zeros(len(a.keys), numpy.int64)  # each message's acknowledged seq (the highest, if several)
    numpy.maximum.at(seq, a.numbered_msg[~polled], a.numbered_seq[~polled])
    acked_seq = seq[acked]
    return (acked_seq > 0) & (acked_seq <= last[a.room[acked]] - limit)
