"""The columns as numpy arrays, for rules that judge every showing or raw push at once.

A soak shows millions of messages. A rule that walked each member's showings as ``Display`` objects
paid Python's price per showing (~1 µs each, six rules: most of a check's time at 10^7 records); over
these arrays its questions are a few numpy operations per member, and Python is left only for the
violations. Built once per evidence (``Evidence.arrays``), from what the one pass already holds:

- per message (numbered as in the evidence's table of message keys): its room, whether anybody sent
  it, its send's first invoke and acknowledgement (NaN: none), sender, whether acknowledged, and its
  place among its room's acknowledged sends (``Evidence.acked_by_room``);
- per member: its showings' columns and which of them are first showings (:class:`MemberArrays`);
- the raw pushes' columns, and ``Evidence.numbered``'s (message, seq, where seen).

People (members, senders) are numbered in one table, so "sent by this member" is an integer compare.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy

from chaos.checker.columns import Key, KeyedRows, PushRows, Rows, Table


def column(values: Any) -> numpy.ndarray:
    """A typed array (``array.array``) as a numpy array over the same memory, not a copy."""
    return numpy.frombuffer(values, dtype=f"{'f' if values.typecode in 'fd' else 'i'}{values.itemsize}")


class MemberArrays:
    """One member's showings of one room: every row (history order), and the first showing of each
    message (``f*``, display order), as the ``first`` of :class:`chaos.checker.columns.Showings`."""

    __slots__ = ("time", "seq", "msg", "source", "ftime", "fseq", "fmsg", "fsource", "duplicates")

    def __init__(self, rows: Rows) -> None:
        self.time, self.seq, self.msg, self.source = (column(rows.time), column(rows.seq), column(rows.msg),
                                                      column(rows.source))
        distinct, first, times = numpy.unique(self.msg, return_index=True, return_counts=True)
        if len(distinct) == len(self.msg):  # nothing shown twice, as it should be: every row is a first showing
            self.ftime, self.fseq, self.fmsg, self.fsource = self.time, self.seq, self.msg, self.source
            self.duplicates: list[tuple[int, int]] = []
        else:
            first.sort()
            self.ftime, self.fseq, self.fmsg, self.fsource = (self.time[first], self.seq[first], self.msg[first],
                                                              self.source[first])
            twice = times > 1
            self.duplicates = list(zip(distinct[twice].tolist(), times[twice].tolist()))  # (message, times shown)


_EMPTY = Rows()


class Arrays:
    """The evidence's columns and sends as numpy arrays (see the module's docstring)."""

    def __init__(self, rows: Mapping[Key, Rows], push_rows: PushRows, messages: Table, people: Table,
                 sources: Table, sends: Mapping[Key, Any], numbered: KeyedRows) -> None:
        self.keys: list[Key] = messages.values
        self.people, self.sources = people, sources.values
        self._rows = rows
        n = len(self.keys)
        room_ids: dict[str, int] = {}
        self.room_names: list[str] = []
        for room, _ in self.keys:  # few rooms: a dict lookup per message
            if room not in room_ids:
                room_ids[room] = len(self.room_names)
                self.room_names.append(room)
        self.room_ids = room_ids
        self.room = numpy.fromiter(map(room_ids.__getitem__, map(_first, self.keys)), numpy.int64, n)
        listed = list(sends.values())
        at = numpy.fromiter(map(messages.ids.__getitem__, sends), numpy.int64, len(listed))
        self.send_order = at  # every sent message, in order of its send's first record (``Evidence.sends``)
        self.sent = numpy.zeros(n, bool)
        self.sent[at] = True
        self.invoke = numpy.full(n, numpy.nan)
        self.invoke[at] = numpy.array([s.invoke for s in listed], dtype=float)
        self.ok = numpy.full(n, numpy.nan)
        self.ok[at] = numpy.array([s.ok for s in listed], dtype=float)
        self.sender = numpy.full(n, -1, numpy.int64)
        self.sender[at] = numpy.fromiter(map(people.id, [s.sender for s in listed]), numpy.int64, len(listed))
        acked_at = at[numpy.fromiter((s.flags & 1 for s in listed), bool, len(listed))]  # in send order
        self.acked = numpy.zeros(n, bool)
        self.acked[acked_at] = True
        self.place = numpy.full(n, -1, numpy.int64)  # among its room's acknowledged sends, in send order
        rooms = self.room[acked_at]
        order = numpy.argsort(rooms, kind="stable")
        ranked = rooms[order]
        self.place[acked_at[order]] = numpy.arange(len(ranked)) - numpy.searchsorted(ranked, ranked)
        self._acked, self._acked_rooms = acked_at[order], ranked  # by room, then in send order
        self.push_member, self.push_msg, self.push_seq, self.push_sender, self.push_time = (
            column(push_rows.member), column(push_rows.msg), column(push_rows.seq), column(push_rows.sender),
            column(push_rows.time))
        self._members: dict[Key, MemberArrays] = {}
        self.numbered_msg, self.numbered_seq = column(numbered.msg), column(numbered.a)  # each ack and final poll
        self.numbered_label = column(numbered.b)  # where seen, as KeyedRows.label numbers it
        self.polled_rows = self.numbered_label == numbered.label_number("final poll")  # numbered rows of final polls
        self.held = numpy.zeros(n, bool)  # what a final poll found on the server (``Evidence.final_polls``)
        self.held[self.numbered_msg[self.polled_rows]] = True

    def member(self, member: Key) -> MemberArrays:
        """A member's showings (none if it showed nothing); kept, as several rules ask for each."""
        found = self._members.get(member)
        if found is None:
            found = self._members[member] = MemberArrays(self._rows.get(member, _EMPTY))
        return found

    def acked_in(self, room: str) -> numpy.ndarray:
        """A room's acknowledged messages, in send order: ``Evidence.acked_by_room[room]`` as numbers."""
        r = self.room_ids.get(room, -1)
        return self._acked[numpy.searchsorted(self._acked_rooms, r):numpy.searchsorted(self._acked_rooms, r, "right")]

    def person(self, name: str) -> int:
        """A member's or sender's number."""
        return self.people.id(name)

    def shown(self) -> numpy.ndarray:
        """Per message: whether some member showed it."""
        out = numpy.zeros(len(self.keys), bool)
        for member in self._rows:
            out[self.member(member).msg] = True
        return out


def _first(key: Key) -> str:
    return key[0]
