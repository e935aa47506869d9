"""A fault: ``kind`` on ``target`` from ``start`` for ``duration`` seconds, then healed.

The model only: building a validated fault (:func:`make_fault`) and naming
the parts it hits. The kinds are registered in ``chaos.faults.kinds``, targets
are read by ``chaos.faults.target``, schedules are drawn by ``chaos.faults.schedule``
and ``chaos.faults.nemesis`` applies them. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from chaos.faults.kinds import KINDS, FaultError, check_params
from chaos.naming import PartNames
from chaos.faults.target import Target, concrete_name, expand, forms, parse_target

__all__ = ["Fault", "FaultError", "make_fault", "resolve"]


def resolve(kind: str, target: Target, names: PartNames) -> list[str]:
    """The proxies, processes or clients that ``kind`` on ``target`` hits in this topology."""
    category = KINDS[kind].applies_to
    return [concrete_name(t, category, names) for t in expand(target, category, names)]


@dataclass(frozen=True)
class Fault:
    """One fault. Times are seconds from the start of the workload.

    ``id`` numbers the faults of a schedule; toxic names and history records carry it.
    """

    kind: str
    target: Target
    start: float
    duration: float
    params: Mapping[str, Any] = field(default_factory=dict)
    id: int = 0

    @property
    def end(self) -> float:
        return round(self.start + self.duration, 6)

    @property
    def category(self) -> str:
        return KINDS[self.kind].applies_to

    @property
    def extension(self) -> bool:
        return KINDS[self.kind].extension

    def names(self, names: PartNames) -> list[str]:
        return resolve(self.kind, self.target, names)

    def describe(self, origin: float | None = None) -> str:
        """What, on what, when: from the workload's start as a scenario file counts (and said so), or, given
        ``origin`` (when the workload began on the reader's clock), on that clock, as a run's report counts."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        when = (f"{self.start:g}-{self.end:g} s into the workload" if origin is None
                else f"{origin + self.start:.1f}-{origin + self.end:.1f} s")
        return f"{self.kind}({params}) on {self.target}, {when}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": str(self.target), "start": self.start,
                "duration": self.duration, "end": self.end, "params": dict(self.params)}


def make_fault(kind: str, target: str | Target, start: Any, duration: Any,
               params: Mapping[str, Any] | None = None, id: int = 0) -> Fault:
    """Build a validated fault; raises :class:`FaultError` naming the bad field."""
    if not isinstance(kind, str):
        raise FaultError("kind", f"must be a string, not {kind!r}")
    params = check_params(kind, params)
    tgt = parse_target(target)
    category = KINDS[kind].applies_to
    only = KINDS[kind].target
    if only is not None and tgt.scope != only:
        raise FaultError("target", f"{kind} needs a {only} target ({forms(category, only)}), not {tgt}")
    if not tgt.serves(category):
        raise FaultError("target", f"{kind} needs a {category} target ({forms(category, KINDS[kind].scopes or None)}), "
                                   f"not {tgt}")
    if KINDS[kind].scopes and tgt.scope not in KINDS[kind].scopes:
        raise FaultError("target", f"{kind} needs one of: {forms(category, KINDS[kind].scopes)}; not {tgt}")
    if isinstance(start, bool) or not isinstance(start, (int, float)) or start < 0:
        raise FaultError("start", f"must be a number >= 0, not {start!r}")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0:
        raise FaultError("duration", f"must be a positive number, not {duration!r}")
    return Fault(kind, tgt, float(start), float(duration), params, id)
