"""What each member showed: every acknowledged message, once, in order, and nothing unsent.

Per (room, member): ``lost`` (an acknowledged send that began after the
member joined, by someone else, never shown), ``duplicates``, ``reordered``
(shown after a message whose send began later than it was acknowledged;
concurrent sends may show in either order) and ``phantom`` (shown, never
sent); and how others' messages came to be shown (push, poll, join).
"""

from __future__ import annotations

import math

import numpy

from chaos.checker.evidence import Evidence
from chaos.checker.model import SOURCES, MemberStats, Violation
from chaos.checker.rules.base import Finding, rule

TOTALS: tuple[str, ...] = ("lost", "duplicates", "reordered", "phantom")


@rule("members", owns=(*TOTALS, "delivered_by_push", "delivered_by_poll", "delivered_by_join", "push_share",
                       "members"), kinds=("lost", "duplicate", "reordered", "phantom"))
def members(ev: Evidence) -> Finding:
    found = Finding()
    totals = dict.fromkeys((*TOTALS, "delivered_by_push", "delivered_by_poll", "delivered_by_join"), 0)
    all_stats: list[MemberStats] = []
    for room, member in ev.members:
        stats = MemberStats(room, member, final_poll=(room, member) in ev.final_polled)
        all_stats.append(stats)
        _shown(ev, stats, found)
        join_time = ev.joined.get((room, member))
        if join_time is not None and (room, member) not in ev.left:
            _expected(ev, stats, join_time, found)
        for name in TOTALS:
            totals[name] += getattr(stats, name)
        for source in SOURCES:
            totals[f"delivered_by_{source}"] += getattr(stats, f"by_{source}")
    shown_total = sum(totals[f"delivered_by_{source}"] for source in SOURCES)
    found.values.update(totals, members=all_stats,
                        push_share=round(totals["delivered_by_push"] / shown_total, 4) if shown_total else None)
    return found


def _shown(ev: Evidence, stats: MemberStats, found: Finding) -> None:
    """Phantoms and reorderings over the member's first showings (in display order), then its duplicates.
    Over the arrays (``Evidence.arrays``): Python only for the violations."""
    room, member = stats.room, stats.member
    a, m = ev.arrays, ev.arrays.member((room, member))
    me = a.person(member)
    msg = m.fmsg
    sent = a.sent[msg]
    said: list[tuple[int, Violation]] = []  # (place in display order, violation): phantoms and reorderings
    for i in numpy.flatnonzero(~sent).tolist():
        stats.phantom += 1
        cmid = a.keys[msg[i]][1]
        said.append((i, Violation("phantom", f"{member} showed {cmid!r} in {room}, which nobody sent", room, member,
                                  cmid)))
    others = sent & (a.sender[msg] != me)
    counted = numpy.bincount(m.fsource[others], minlength=len(a.sources))
    for n, source in zip(counted.tolist(), a.sources):
        if source in SOURCES:
            setattr(stats, f"by_{source}", getattr(stats, f"by_{source}") + n)
    places = numpy.flatnonzero(sent)  # phantoms are skipped: they neither reorder nor are reordered
    invoked = numpy.nan_to_num(a.invoke[msg[places]], nan=-math.inf)
    acked = numpy.nan_to_num(a.ok[msg[places]], nan=math.inf)
    before = numpy.concatenate(([-math.inf], numpy.maximum.accumulate(invoked)))[:-1]  # latest invoke before each
    records = numpy.flatnonzero(invoked > before)  # where the latest changed hands
    for k in numpy.flatnonzero(before > acked).tolist():
        stats.reordered += 1
        send, latest = ev.sends[a.keys[msg[places[k]]]], ev.sends[a.keys[msg[places[records[
            numpy.searchsorted(records, k) - 1]]]]]
        said.append((int(places[k]), Violation(
            "reordered", f"{member} showed {latest.label} (sent at {float(before[k]):.3f} s) before "
            f"{send.label} (acknowledged earlier, at {send.ok:.3f} s) in {room}", room, member, send.client_msg_id)))
    said.sort(key=lambda item: item[0])
    found.violations += [v for _, v in said]
    stats.shown = len(msg)
    for key, times in sorted((a.keys[i], n) for i, n in m.duplicates):  # sort the few, not all
        stats.duplicates += times - 1
        found.violation("duplicate", f"{member} showed {key[1]!r} {times} times in {room}", room, member, key[1])


def _expected(ev: Evidence, stats: MemberStats, join_time: float, found: Finding) -> None:
    """Acknowledged sends by others that began after the member joined: each must have been shown."""
    room, member = stats.room, stats.member
    a = ev.arrays
    sends = ev.acked_by_room.get(room, [])
    if not sends:
        return
    msg = a.acked_in(room)
    due = (a.sender[msg] != a.person(member)) & (a.invoke[msg] >= join_time)  # NaN (never invoked): not due
    stats.expected += int(due.sum())
    shown = numpy.zeros(len(a.keys), bool)
    shown[a.member((room, member)).msg] = True
    for i in numpy.flatnonzero(due & ~shown[msg]).tolist():
        send = sends[i]
        stats.lost += 1
        found.violation("lost", f"{member} never showed {send.label} in {room}, acknowledged at {send.ok:.3f} s",
                        room, member, send.client_msg_id)

