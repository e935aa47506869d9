"""What each member showed: every acknowledged message, once, in order, and nothing unsent.

Per (room, member): ``lost`` (an acknowledged send that began after the
member joined, by someone else, never shown), ``duplicates``, ``reordered``
(shown after a message whose send began later than it was acknowledged;
concurrent sends may show in either order) and ``phantom`` (shown, never
sent); and how others' messages came to be shown (push, poll, join).
"""

from __future__ import annotations

import math

from chaos.checker.evidence import Evidence
from chaos.checker.model import SOURCES, MemberStats
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
    """Phantoms and reorderings over the member's first showings, then its duplicates."""
    room, member = stats.room, stats.member
    showings = ev.showings_of((room, member))
    by_source = dict.fromkeys(SOURCES, 0)
    max_invoke, latest = -math.inf, None  # prefix maximum of send-invoke times over display order
    for d in showings.first:
        send = d.send
        if send is None:
            stats.phantom += 1
            found.violation("phantom", f"{member} showed {d.key[1]!r} in {room}, which nobody sent", room, member,
                            d.key[1])
            continue
        if send.sender != member and d.source in by_source:
            by_source[d.source] += 1
        if send.ok is not None and latest is not None and max_invoke > send.ok:
            stats.reordered += 1
            found.violation("reordered", f"{member} showed {latest.label} (sent at {max_invoke:.3f} s) before "
                            f"{send.label} (acknowledged earlier, at {send.ok:.3f} s) in {room}", room, member,
                            send.client_msg_id)
        if send.invoke is not None and send.invoke > max_invoke:
            max_invoke, latest = send.invoke, send
    for source, n in by_source.items():
        setattr(stats, f"by_{source}", n)
    stats.shown = len(showings.counts)
    for key, times in sorted((k, n) for k, n in showings.counts.items() if n > 1):  # sort the few, not all
        if times > 1:
            stats.duplicates += times - 1
            found.violation("duplicate", f"{member} showed {key[1]!r} {times} times in {room}", room, member, key[1])


def _expected(ev: Evidence, stats: MemberStats, join_time: float, found: Finding) -> None:
    """Acknowledged sends by others that began after the member joined: each must have been shown."""
    room, member = stats.room, stats.member
    counts = ev.showings_of((room, member)).counts
    for send in ev.acked_by_room.get(room, []):
        if send.sender == member or send.invoke is None or send.invoke < join_time:
            continue
        stats.expected += 1
        if (room, send.client_msg_id) not in counts:
            stats.lost += 1
            found.violation("lost", f"{member} never showed {send.label} in {room}, acknowledged at {send.ok:.3f} s",
                            room, member, send.client_msg_id)
