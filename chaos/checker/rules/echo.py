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

from chaos.checker.evidence import Evidence, Key, Pushed
from chaos.checker.rules.base import Finding, rule


@rule("echo", owns=("own_pushes",), kinds=("pushed_own_message", "echo_missing"))
def echo(ev: Evidence) -> Finding:
    found = Finding()
    own: dict[Key, set[str]] = {}      # (room, member) -> own messages pushed back
    others_after: set[Key] = set()     # members pushed someone else's message after their first own ack
    first_ack: dict[Key, float] = {}   # (room, member) -> its first acknowledgement
    for sends in ev.acked_by_room.values():
        for s in sends:
            if s.ok is not None:
                first_ack[(s.room, s.sender)] = min(s.ok, first_ack.get((s.room, s.sender), s.ok))
    first_echo: dict[Key, Pushed] = {}
    count = 0
    for p in ev.pushes:
        send = ev.sends.get((p.room, p.client_msg_id))
        mine = (send.sender if send is not None else p.sender) == p.member
        key = (p.room, p.member)
        if mine:
            count += 1
            if key not in own and not ev.push_to_sender:
                first_echo[key] = p
            own.setdefault(key, set()).add(p.client_msg_id)
        elif key in first_ack and p.time > first_ack[key]:
            others_after.add(key)
    for key, p in first_echo.items():  # one violation per member and room, naming the first echo
        found.violation("pushed_own_message", f"{p.member} was pushed its own message {p.client_msg_id} (seq {p.seq}) "
                        f"in {p.room}, and {len(own[key])} of its own in all, though the rooms do not push to senders",
                        room=p.room, member=p.member, message=p.client_msg_id)
    if ev.push_to_sender:
        for room, member in sorted(others_after - set(own)):
            found.violation("echo_missing", f"{member} sent acknowledged messages to {room} and was pushed others' "
                            "messages there afterwards, but never one of its own, though the rooms push to "
                            "senders too (--push-to-sender)", room=room, member=member)
    found.values["own_pushes"] = count
    return found
