"""Typed checks of a YAML document's fields, each problem noted with its field path, all of them at once.

``chaos.scenario.files`` reads scenario files with these, so that one run
of the loader lists every mistake of a file (``faults[2].duration: must
be a positive number, not -1``) and one edit fixes them all.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Mapping, Sequence

Problem = tuple[str, str, str]  # (file, field path, message)


class Bad(ValueError):
    """Value problems; each ``sub`` extends the field path (``[2]``, ``.x``)."""

    def __init__(self, message: str = "", sub: str = "", items: Sequence[tuple[str, str]] | None = None) -> None:
        self.items = list(items) if items is not None else [(sub, message)]
        super().__init__("; ".join(m for _, m in self.items))

    def under(self, prefix: str) -> list[tuple[str, str]]:
        return [(prefix + sub, message) for sub, message in self.items]


class Problems:
    """Every problem of one file, so that one run of the loader shows them all."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[Problem] = []

    def add(self, field_: str, message: str) -> None:
        self.found.append((self.file, field_, message))

    def __len__(self) -> int:
        return len(self.found)


def unknown_key(problems: Problems, where: str, key: Any, known: Sequence[str],
                what: str = "unknown key") -> str | None:
    """Note an unknown key, with the known key it most looks like; return that key (a likely typo)."""
    close = difflib.get_close_matches(str(key), known, n=1)
    problems.add(where, f"{what} (did you mean {close[0]!r}?)" if close else f"{what} (known: {', '.join(known)})")
    return close[0] if close else None


REQUIRED = object()


class Section:
    """One mapping of the file: typed access; each problem is noted with its field path."""

    def __init__(self, problems: Problems, path: str, data: Any, known: Sequence[str]) -> None:
        self.problems, self.path = problems, path
        self.data: Mapping[Any, Any] = {}
        self.typos: set[str] = set()  # known keys that an unknown key looks like
        self.count = 0
        self.is_mapping = isinstance(data, Mapping)
        if not self.is_mapping:
            self.add("", f"must be a mapping, not {what(data)}")
            return
        self.data = data
        for key in data:
            if key not in known:
                self.count += 1
                self.typos.add(unknown_key(problems, self.at(key), key, known) or "")

    @property
    def failed(self) -> bool:
        return self.count > 0

    def at(self, key: Any) -> str:
        return f"{self.path}.{key}" if self.path and key != "" else self.path or str(key)

    def add(self, key: str, message: str) -> None:
        self.count += 1
        self.problems.add(self.at(key), message)

    def get(self, key: str, check: Callable[[Any], Any], default: Any = REQUIRED) -> Any:
        """The checked value; on a problem, note it and return ``default`` (None when required)."""
        if key not in self.data or self.data[key] is None:
            if default is not REQUIRED:
                return default
            if key in self.typos or not self.is_mapping:  # reported already: the misspelt key, or the section
                self.count += 1
            else:
                self.add(key, "is required")
            return None
        try:
            return check(self.data[key])
        except Bad as bad:
            for sub, message in bad.under(""):
                self.add(f"{key}{sub}", message)
            return None if default is REQUIRED else default


def what(value: Any) -> str:
    """A value as an error message shows it: ``a str ('x')``, ``nothing``."""
    return "nothing" if value is None else f"a {type(value).__name__} ({value!r})"


def number(minimum: float = 0.0, positive: bool = False, integer: bool = False) -> Callable[[Any], Any]:
    kind = ("a positive " if positive else "a ") + ("whole number" if integer else "number")

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and value != int(value)):
            raise Bad(f"must be {kind}, not {what(value)}")
        if (positive and value <= 0) or value < minimum:
            raise Bad(f"must be {kind}" + ("" if positive else f" >= {minimum:g}") + f", not {value!r}")
        return int(value) if integer else float(value)
    return check


def one_of(choices: Sequence[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise Bad(f"must be one of {', '.join(choices)}, not {what(value)}{hint}")
        return value
    return check


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"must be a non-empty string, not {what(value)}")
    return value.strip()


def one_line(value: Any) -> str:
    line = text(value)
    if "\n" in line:
        raise Bad("must be one line")
    return line


def list_of(check: Callable[[Any], Any], unique: bool = True) -> Callable[[Any], tuple[Any, ...]]:
    def check_list(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list) or not value:
            raise Bad(f"must be a non-empty list, not {what(value)}")
        out: list[Any] = []
        bad: list[tuple[str, str]] = []
        for i, item in enumerate(value):
            try:
                item = check(item)
            except Bad as b:
                bad += b.under(f"[{i}]")
                continue
            if unique and item in out:
                bad.append((f"[{i}]", f"{item!r} is listed twice"))
                continue
            out.append(item)
        if bad:
            raise Bad(items=bad)
        return tuple(out)
    return check_list


def as_is(value: Any) -> Any:
    return value
