"""The bulk of a history held as columns: every showing and every raw push, a row of typed arrays each.

A history is mostly ``deliver`` and ``push`` records, one per member per
message. Kept as objects they cost a few hundred bytes each, and a soak's
10^7 records would not fit; here each is a row of a few machine numbers
(about 30 bytes), naming its message by number in one table of message
keys. The rules still read :class:`Display` and :class:`Pushed` objects:
the views below make them on demand, one member at a time, and drop them
when the rule moves on.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from operator import itemgetter
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

Key = tuple[str, str]  # (room, client_msg_id) for a message, (room, member) for a member


class Table:
    """Values numbered in order of first sight, each held once: the rows name them by number."""

    __slots__ = ("ids", "values")

    def __init__(self) -> None:
        self.ids: dict = {}
        self.values: list = []

    def id(self, value) -> int:
        i = self.ids.get(value)
        if i is None:
            i = self.ids[value] = len(self.values)
            self.values.append(value)
        return i

    def canonical(self, value):
        """The one copy of ``value`` the table holds (a message key read again is not held twice)."""
        return self.values[self.id(value)]


class Rows:
    """Showings of one member of one room, in history order: time, seq, message number, source number."""

    __slots__ = ("time", "seq", "msg", "source")

    def __init__(self) -> None:
        self.time = array("d")
        self.seq = array("q")
        self.msg = array("l")
        self.source = array("l")


class PushRows:
    """Raw pushes that named their message, in history order: member, message (filed room + id), seq,
    sender, time."""

    __slots__ = ("member", "msg", "seq", "sender", "time")

    def __init__(self) -> None:
        self.member = array("l")
        self.msg = array("l")
        self.seq = array("q")
        self.sender = array("l")
        self.time = array("d")


class Display(NamedTuple):
    """A message a member showed its user: which, when and how it got there. A tuple: the views make
    millions, and a tuple is made in C."""

    key: Key
    time: float
    source: str
    seq: int = 0
    send: Any = None  # its send (evidence.Send), once the evidence has paired them (None: never sent)


@dataclass(slots=True)
class Showings:
    """One member's displays of one room, deduplicated."""

    counts: Counter[Key]   # message -> times shown
    first: list[Display]   # each message's first showing, in display order, paired with its send


class Pushed(NamedTuple):
    """A raw push a member's client received (shown or not), as its history record named it."""

    member: str
    room: str          # the room the client filed it under
    seq: int
    client_msg_id: str
    sender: str
    time: float


_display = partial(tuple.__new__, Display)  # from one tuple of all five fields, without Python code per row
_pushed = partial(tuple.__new__, Pushed)


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


_SEQ_RANGE = range(-2**63, 2**63)


def seq_of(value: object) -> int:
    """A record's seq as a number a row can hold (0 when it is none, or beyond 64 bits)."""
    n = _int(value)
    return n if n in _SEQ_RANGE else 0


class _MemberRows:
    """What both member views know without building a row: their members (``_rows``' keys)."""

    _rows: dict[Key, Rows]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, member: object) -> bool:
        return member in self._rows


class DisplayIndex(_MemberRows, Mapping[Key, list[Display]]):
    """(room, member) -> what it showed, in order: made from its rows when asked."""

    def __init__(self, rows: dict[Key, Rows], messages: Table, sources: Table) -> None:
        self._rows, self._keys, self._sources = rows, messages.values, sources.values

    def __getitem__(self, member: Key) -> list[Display]:
        r = self._rows[member]
        keys, sources = self._keys, self._sources
        return list(map(_display, zip(map(keys.__getitem__, r.msg), r.time, map(sources.__getitem__, r.source), r.seq,
                                      repeat(None))))


class ShowingsIndex(_MemberRows, Mapping[Key, Showings]):
    """(room, member) -> its :class:`Showings`, made from its rows when asked; the last one is kept (a
    rule reads a member's twice in a row), the others are made again."""

    def __init__(self, rows: dict[Key, Rows], messages: Table, sources: Table, sends: Mapping[Key, object]) -> None:
        self._rows, self._keys, self._sources, self._sends = rows, messages.values, sources.values, sends
        self._last: tuple[Key, Showings] | None = None

    def __getitem__(self, member: Key) -> Showings:
        if self._last is not None and self._last[0] == member:
            return self._last[1]
        r = self._rows[member]
        keys, sources, sends = self._keys, self._sources, self._sends
        counts: Counter[Key] = Counter(map(keys.__getitem__, r.msg))
        if len(counts) == len(r.msg):  # nothing shown twice, as it should be: every row is a first showing
            shown = list(map(keys.__getitem__, r.msg))
            first = list(map(_display, zip(shown, r.time, map(sources.__getitem__, r.source), r.seq,
                                           map(sends.get, shown))))
        else:
            seen: set[Key] = set()
            first = []
            for t, q, m, s in zip(r.time, r.seq, r.msg, r.source):
                key = keys[m]
                if key not in seen:
                    seen.add(key)
                    first.append(Display(key, t, sources[s], q, sends.get(key)))
        found = Showings(counts, first)
        self._last = (member, found)
        return found


class PushList(Sequence[Pushed]):
    """The raw pushes, in order, made from their rows as they are read."""

    def __init__(self, rows: PushRows, messages: Table, names: Table) -> None:
        self._rows, self._keys, self._names = rows, messages.values, names.values

    def __len__(self) -> int:
        return len(self._rows.time)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        r = self._rows
        room, cmid = self._keys[r.msg[i]]
        return Pushed(self._names[r.member[i]], room, r.seq[i], cmid, self._names[r.sender[i]], r.time[i])

    def __iter__(self) -> Iterator[Pushed]:
        r, keys, names = self._rows, self._keys, self._names
        return map(_pushed, zip(map(names.__getitem__, r.member), map(itemgetter(0), map(keys.__getitem__, r.msg)),
                                r.seq, map(itemgetter(1), map(keys.__getitem__, r.msg)),
                                map(names.__getitem__, r.sender), r.time))


class KeyedRows(Sequence[tuple]):
    """Rows that name a message and carry numbers and one short label, as columns: ``numbered`` gives
    (room, seq, client_msg_id, where seen), ``stamps`` (room, seq, timestamp, client_msg_id); each row two
    per message, 24 bytes instead of a tuple's hundred and more."""

    def __init__(self, messages: Table, shape: str) -> None:
        self._keys, self._shape = messages.values, shape  # shape "numbered" or "stamps"
        self._labels = Table()
        self.msg, self.a, self.b = array("l"), array("q"), array("q")

    def add(self, msg: int, seq: int, other: int | str) -> None:
        """A row: the message's number in the table, its seq, and the label (numbered) or timestamp (stamps)."""
        self.msg.append(msg)
        self.a.append(seq)
        self.b.append(self._labels.id(other) if self._shape == "numbered" else other)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.msg)

    def label(self, label: str) -> int:
        """The number column ``b`` of ``numbered`` gives this label, numbered anew if no row had it yet."""
        return self._labels.id(label)

    def label_number(self, label: str) -> int:
        """How column ``b`` of ``numbered`` names this label (where seen, e.g. "final poll"); -1: no row has it."""
        return self._labels.ids.get(label, -1)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        room, cmid = self._keys[self.msg[i]]
        if self._shape == "numbered":
            return (room, self.a[i], cmid, self._labels.values[self.b[i]])
        return (room, self.a[i], self.b[i], cmid)

    def __iter__(self) -> Iterator[tuple]:
        rooms = map(itemgetter(0), map(self._keys.__getitem__, self.msg))
        cmids = map(itemgetter(1), map(self._keys.__getitem__, self.msg))
        if self._shape == "numbered":
            return zip(rooms, self.a, cmids, map(self._labels.values.__getitem__, self.b))
        return zip(rooms, self.a, self.b, cmids)
