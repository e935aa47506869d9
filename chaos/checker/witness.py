"""First witnesses per key, as a rule's ``defaultdict(dict)`` of ``setdefault`` but compact.

Rules that look for a key carrying two values (a seq with two messages, a
message under two seqs) kept a dict per key; a soak has a key per message,
and a dict each was a few hundred bytes. Here a key seen with one value
holds a tuple, and only a key with a second value gets its dict.
"""

from __future__ import annotations

from typing import Any, Hashable


class Witnesses:
    """key -> {value: where it was first seen}, in order of sight."""

    __slots__ = ("_first", "_more")

    def __init__(self) -> None:
        self._first: dict[Hashable, tuple[Any, str]] = {}
        self._more: dict[Hashable, dict[Any, str]] = {}

    def add(self, key: Hashable, value: Any, where: str) -> None:
        first = self._first.setdefault(key, (value, where))
        if first[0] != value:
            more = self._more.get(key)
            if more is None:
                more = self._more[key] = {first[0]: first[1]}
            more.setdefault(value, where)

    def conflicts(self) -> list[tuple[Any, dict[Any, str]]]:
        """(key, {value: first witness}) of each key seen with more than one value, sorted by key."""
        return sorted(self._more.items())
