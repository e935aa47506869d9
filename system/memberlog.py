"""A room's member list as versions: what changed since a version, in bounded pages (sans-I/O).

Every change to a member (joined, left, turned away or back, read further)
is stamped with a version, the room's presence clock at the change, and
the member's entry moves to the end of the log. A client that holds a
version asks for what changed since it: the members whose entry is newer,
as they are now, and who left since. Nobody is ever sent the whole list:
a reply carries at most ``budget`` bytes of it, cut in version order, and
says where to go on from (``more``). A client that holds nothing, holds a
version of another *origin* (the room was loaded again: versions start
over) or one older than the departures the log still remembers, gets the
list from the start instead (``full``), a page at a time; what it held
and no page of that listing names is gone.

Why a page cut in version order is exact: an entry is a member's latest
change, so a member left out of a page (its entry is newer than the
page's version) is named by a later one, and one named is unchanged up
to that version.

A page cut short is kept and handed out again while no member named in
the log before its end has changed (``_moves``): in a room filling up,
every newcomer's join reply is the same first page, built once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator

from system.pb import chat_pb2

ENTRY_OVERHEAD = 4  # bytes a repeated field adds to an entry (tag and length), counted against the budget


class MemberLog:
    """The versions of one room's member list, and the departures still remembered."""

    def __init__(self, origin: int, max_gone: int) -> None:
        self.origin = origin          # versions of this log are above it; a client's of another origin means nothing here
        self.version = origin         # the latest change
        self.floor = origin           # changes since a version below it cannot be told: departures were forgotten
        self.max_gone = max_gone
        # user -> version of its latest change, in version order (a change moves the user to the end), so a
        # page walks live entries only, never the superseded ones a room of thousands leaves behind
        self._at: dict[str, int] = {}
        self._gone: OrderedDict[str, int] = OrderedDict()      # departed users -> version, oldest first
        self._moves = 0   # changes to users already in the log: each may alter a page already cut
        self._kept: dict[tuple[int, bool, int], tuple[int, chat_pb2.MemberPage]] = {}  # (start, full, budget) -> (moves, page)

    def changed(self, user: str, version: int) -> None:
        """``user`` (a member) changed at ``version`` (greater than any before)."""
        if self._at.pop(user, None) is not None:
            self._moves += 1
        self._at[user] = version
        self.version = version
        self._gone.pop(user, None)

    def departed(self, user: str, version: int) -> None:
        """``user`` left at ``version``; the oldest departures are forgotten past ``max_gone``."""
        self.changed(user, version)
        self._gone[user] = version
        while len(self._gone) > self.max_gone:
            old, at = self._gone.popitem(last=False)
            del self._at[old]
            self.floor = max(self.floor, at)

    def knows(self, version: int, origin: int, listing: bool = False) -> bool:
        """Whether the changes since (``version``, ``origin``) can be told (else: the list from the start).
        A client ``listing`` from the start goes on past forgotten departures: who is not named is gone."""
        return version > 0 and origin == self.origin and (listing or self.floor <= version) and version <= self.version

    def _since(self, start: int) -> Iterator[tuple[str, int]]:
        """(user, version) of each change after ``start``, oldest first: from the front for the list from the
        start, else gathered from the back (what changed since a recent version is a few entries)."""
        if start <= self.origin:
            return iter(self._at.items())
        newer = []
        for user, at in reversed(self._at.items()):
            if at <= start:
                break
            newer.append((user, at))
        return reversed(newer)

    def page(self, version: int, origin: int, member: Callable[[str], chat_pb2.Member],
             budget: int, listing: bool = False) -> chat_pb2.MemberPage:
        """What changed since (``version``, ``origin``), or the list from the start, up to ``budget`` bytes."""
        full = not self.knows(version, origin, listing)
        start = self.origin if full else version
        key = (start, full, budget)
        kept = self._kept.get(key)
        if kept is not None and kept[0] == self._moves:
            return kept[1]
        members: list[chat_pb2.Member] = []
        gone: list[str] = []
        size, reached, more, before = 0, self.version, False, start
        for user, at in self._since(start):
            left = user in self._gone
            if left and full:
                before = at
                continue
            entry = None if left else member(user)
            cost = (len(user.encode()) if entry is None else entry.ByteSize()) + ENTRY_OVERHEAD
            if size + cost > budget and (members or gone):
                more, reached = True, before
                break
            size += cost
            before = at
            if entry is None:
                gone.append(user)
            else:
                members.append(entry)
        page = chat_pb2.MemberPage(version=reached, origin=self.origin, full=full, members=members, gone=gone,
                                   more=more)
        if more:  # a page that reached the end changes with the next change; one cut short, only with a move
            self._kept = {k: v for k, v in self._kept.items() if v[0] == self._moves}
            if len(self._kept) >= 64:
                self._kept.clear()
            self._kept[key] = (self._moves, page)
        return page
