"""Read receipts: monotone per (reader, viewer), never ahead of what the reader was sent, converged after heal.

- Each read position a viewer is shown for a reader (``read`` records,
  pushed or polled) is at least the one it was shown before.
- It is never beyond what the reader itself had been sent by then: the
  highest seq the reader showed (or had acknowledged as its own send).
- After the final poll every member shows the same position for each
  reader, and it is at least the reader's last acknowledged ``MarkRead``.

A room whose history started over (a node that lost its data) numbers
from 1 again: it is not judged for receipts.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule


@rule("receipts", owns=("receipts_shown", "receipt_regressions", "receipts_ahead", "receipts_diverged"),
      kinds=("receipt_regressed", "receipt_ahead", "receipt_diverged"), requires=("presence",))
def receipts(ev: Evidence) -> Finding:
    found = Finding()
    reset = {str(op.value.get("room", "")) for op in ev.history_resets}
    shown = regressions = ahead = diverged = 0
    sent = _sent_to(ev) if ev.presence.get("read") else {}  # every showing, held: only if judged
    last: dict[tuple[str, str, str], int] = {}
    for op in ev.presence.get("read", []):
        room, reader, seq = str(op.value.get("room", "")), str(op.value.get("user", "")), int(op.value.get("read_seq", 0))
        if room in reset:
            continue
        shown += 1
        key = (room, reader, op.process)
        if seq < last.get(key, 0):
            regressions += 1
            found.violation("receipt_regressed", f"{op.process} was shown {reader} read {room} up to #{seq} at "
                            f"{op.time:.3f} s, after #{last[key]}", room, op.process)
        last[key] = max(seq, last.get(key, 0))
        times, highs = sent.get((room, reader), ([], []))
        i = bisect.bisect_right(times, op.time)
        bound = highs[i - 1] if i else 0
        if seq > bound:
            ahead += 1
            found.violation("receipt_ahead", f"{op.process} was shown {reader} read {room} up to #{seq} at "
                            f"{op.time:.3f} s, but {reader} had only been sent up to #{bound}", room, op.process)
    diverged = _converged(ev, reset, found)
    found.values.update(receipts_shown=shown, receipt_regressions=regressions, receipts_ahead=ahead,
                        receipts_diverged=diverged)
    return found


def _sent_to(ev: Evidence) -> dict[tuple[str, str], tuple[list[float], list[int]]]:
    """(room, member) -> times and the running highest seq it had been sent (shown, or its own acknowledged)."""
    events: defaultdict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for (room, member), displays in ev.displays.items():
        events[(room, member)] += [(d.time, d.seq) for d in displays]
    for room, seq, _, cmid in ev.stamps:
        send = ev.sends.get((room, cmid))
        if send is not None and send.ok is not None:
            events[(room, send.sender)].append((send.ok, seq))
    out = {}
    for key, items in events.items():
        items.sort()
        high, times, highs = 0, [], []
        for t, seq in items:
            high = max(high, seq)
            times.append(t)
            highs.append(high)
        out[key] = (times, highs)
    return out


def _converged(ev: Evidence, reset: set[str], found: Finding) -> int:
    acked: dict[tuple[str, str], int] = {}
    for op in ev.presence.get("mark_read", []):
        if op.type == "ok":
            key = (str(op.value.get("room", "")), op.process)
            acked[key] = max(acked.get(key, 0), int(op.value.get("read_seq", 0)))
    finals: defaultdict[str, dict[str, dict[str, int]]] = defaultdict(dict)  # room -> viewer -> reads
    for op in ev.presence.get("final_presence", []):
        finals[str(op.value.get("room", ""))][op.process] = dict(op.value.get("reads") or {})
    diverged = 0
    for room, views in finals.items():
        if room in reset:
            continue
        readers = {r for reads in views.values() for r in reads} | {r for (rm, r) in acked if rm == room}
        for reader in sorted(readers):
            floor = acked.get((room, reader), 0)
            others = {reads.get(reader, 0) for reads in views.values()}
            for viewer, reads in sorted(views.items()):
                at = reads.get(reader, 0)
                if at < floor or len(others) > 1:
                    diverged += 1
                    found.violation("receipt_diverged", f"after the final poll {viewer} showed {reader} read {room} "
                                    f"up to #{at}; members showed {sorted(others)}, {reader}'s last acknowledged "
                                    f"MarkRead was #{floor}", room, viewer)
    return diverged
