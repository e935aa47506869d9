"""The store's member list agrees with the rooms' true owners: each member stored under its current client id.

A room's owner serves its member list from memory and writes each change
to the store, fenced by the token of its claim. A deposed owner (frozen
mid-write, then woken after another node claimed the room) whose write is
not fenced overwrites a member's row with a client id from before: the
true owner still pushes to the right one, so nothing shows until the room
is read back from the store. The run reads the store at the end
(``stored_members`` records, ``chaos.infra.stored_members``); every member that
joined a room, never left it, and was connected at the end must be stored
there under the client id it registered last (each reconnection re-joins
with the new one).
"""

from __future__ import annotations

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule


@rule("stored_members", owns=("stored_members_checked", "stored_members_stale"), kinds=("stored_member_stale",))
def stored_members(ev: Evidence) -> Finding:
    found = Finding()
    up: dict[str, float] = {}  # member -> its last successful (re)connection
    for op in ev.reconnects:
        up[op.process] = max(op.time, up.get(op.process, 0.0))
    for (room, member), at in ev.joined.items():
        up[member] = max(at, up.get(member, 0.0))
    checked = stale = 0
    for op in ev.stored_members:
        room, stored = str(op.value.get("room", "")), op.value.get("members") or {}
        for (joined_room, member) in ev.joined:
            if joined_room != room or (room, member) in ev.left or not ev.client_ids.get(member):
                continue
            if max(ev.link_down.get(member, [0.0])) > up.get(member, 0.0):
                continue  # cut off at the end: its last client id may never have been joined
            checked += 1
            current = ev.client_ids[member][-1]
            if stored.get(member) != current:
                stale += 1
                said = f"under client id {stored[member]!r}" if member in stored else "not at all"
                found.violation("stored_member_stale", f"the store holds {member} in {room} {said}, but "
                                f"{member}'s current client id is {current!r} (a deposed owner's write?)",
                                room, member)
    found.values.update(stored_members_checked=checked, stored_members_stale=stale)
    return found
