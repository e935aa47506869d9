"""A member is never pushed its own message, unless the rooms push to senders too.

By default a room pushes each message to every member but its sender: the
sender has its acknowledgement. A push of one's own message is a bug that
nothing else sees (the client drops what it already knows, the push books
still balance, ``push_share`` counts only others' messages). The mode is
the run's: a node started with ``--push-to-sender`` says so in its
``room_config`` log line. In that mode the echo is expected instead: a
member that sent acknowledged messages to a room, and was pushed others'
messages there after its first one, must have been pushed at least one of
its own back (one, not each: a push is best effort, and a fault may cost
any single one).
"""

from __future__ import annotations

import numpy

from chaos.checker.arrays import Arrays
from chaos.checker.evidence import Evidence, Key
from chaos.checker.rules.base import Finding, rule


@rule("echo", owns=("own_pushes",), kinds=("pushed_own_message", "echo_missing"))
def echo(ev: Evidence) -> Finding:
    found = Finding()
    a = ev.arrays
    msg = a.push_msg
    mine = numpy.where(a.sent[msg], a.sender[msg], a.push_sender) == a.push_member  # by its send, else as pushed
    own: dict[Key, set[str]] = {}      # (room, member) -> own messages pushed back
    first_echo: dict[Key, int] = {}    # (room, member) -> its first echo (a push's row)
    names = a.people.values
    for i in numpy.flatnonzero(mine).tolist():
        room, cmid = a.keys[msg[i]]
        key = (room, names[a.push_member[i]])
        if key not in own and not ev.push_to_sender:
            first_echo[key] = i
        own.setdefault(key, set()).add(cmid)
    for key, i in first_echo.items():  # one violation per member and room, naming the first echo
        room, member = key
        cmid = a.keys[msg[i]][1]
        found.violation("pushed_own_message", f"{member} was pushed its own message {cmid} (seq {int(a.push_seq[i])}) "
                        f"in {room}, and {len(own[key])} of its own in all, though the rooms do not push to senders",
                        room=room, member=member, message=cmid)
    if ev.push_to_sender:
        for room, member in sorted(_pushed_others_after_own_ack(a, mine) - set(own)):
            found.violation("echo_missing", f"{member} sent acknowledged messages to {room} and was pushed others' "
                            "messages there afterwards, but never one of its own, though the rooms push to "
                            "senders too (--push-to-sender)", room=room, member=member)
    found.values["own_pushes"] = int(mine.sum())
    return found


def _pushed_others_after_own_ack(a: Arrays, mine: numpy.ndarray) -> set[Key]:
    """(room, member) pairs pushed someone else's message after their own first acknowledgement there."""
    people = len(a.people.values)
    acked = numpy.flatnonzero(a.acked)
    codes = a.room[acked] * people + a.sender[acked]  # (room, sender) as one number
    order = numpy.argsort(codes, kind="stable")
    codes, oks = codes[order], a.ok[acked][order]
    firsts = numpy.flatnonzero(numpy.concatenate(([True], codes[1:] != codes[:-1]))) if len(codes) else codes
    first_ack = numpy.minimum.reduceat(oks, firsts) if len(codes) else oks  # per (room, sender), its first ack
    codes = codes[firsts]
    others = numpy.flatnonzero(~mine)
    pushed = a.room[a.push_msg[others]] * people + a.push_member[others]
    at = numpy.minimum(numpy.searchsorted(codes, pushed), max(len(codes) - 1, 0))
    if not len(codes):
        return set()
    after = (codes[at] == pushed) & (a.push_time[others] > first_ack[at])
    return {(a.room_names[c // people], a.people.values[c % people]) for c in set(pushed[after].tolist())}
