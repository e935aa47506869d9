"""Fault schedules: which faults may not overlap, and seeded random schedules (Jepsen style). Pure."""

from __future__ import annotations

import random
from typing import Any, Mapping, Sequence

from chaos.faults.fault import Fault, make_fault
from chaos.faults.kinds import KINDS, FaultError, check_params
from chaos.naming import PROCESS, PartNames
from chaos.faults.target import Target, expand, forms, parse_target


def _clash(a: Fault, b: Fault, names: PartNames, strict: bool, gap: float) -> str | None:
    """The concrete target two faults may not share at the same time, or None."""
    if not (a.start < b.end + gap and b.start < a.end + gap) or a.category != b.category:
        return None
    if not (strict or a.kind == b.kind or a.category == PROCESS):
        return None
    theirs = set(b.names(names))
    return next((n for n in a.names(names) if n in theirs), None)


def conflicts(faults: Sequence[Fault], names: PartNames, *, strict: bool = False,
              gap: float = 0.0) -> tuple[Fault, Fault, str] | None:
    """The first pair of faults that may not overlap, with the target they share, or None.

    Two faults clash when they overlap in time (within ``gap``) on a shared
    concrete target and either ``strict`` is set (random schedules), or they
    are of the same kind (the heal of one would undo the other), or both act
    on a process (a kill and a pause of one process do not mix).
    """
    ordered = sorted(faults, key=lambda f: (f.start, f.id))
    for i, later in enumerate(ordered):
        for earlier in ordered[:i]:
            name = _clash(earlier, later, names, strict, gap)
            if name:
                return earlier, later, name
    return None


def schedule_random(seed: int, count: int, kinds: Sequence[str], targets: Sequence[str | Target],
                    duration: float, min_duration: float, max_duration: float,
                    names: PartNames, *, params: Mapping[str, Mapping[str, Any]] | None = None,
                    existing: Sequence[Fault] = (), first_id: int = 0, spacing: float = 0.1,
                    target_gap: float = 0.5) -> list[Fault]:
    """A seeded, staggered schedule of ``count`` faults within ``[0, duration]``.

    Each fault draws a kind, then one concrete target from the pools in
    ``targets`` that fits the kind, a duration and a start. No two faults
    share a concrete target at the same time (nor within ``target_gap`` of
    each other, so a restarted process is up again first), and no two
    starts/ends fall within ``spacing`` of each other. Same seed and inputs,
    same schedule: only ``random.Random(seed)`` and ordered sequences are used.
    """
    if count < 0:
        raise FaultError("count", f"must be >= 0, not {count}")
    if not 0 < min_duration <= max_duration:
        raise FaultError("min_duration", "must be positive and at most max_duration")
    if max_duration > duration:
        raise FaultError("max_duration", f"must fit in the workload ({duration:g} s)")
    pools = [parse_target(t) for t in targets]
    candidates: dict[str, list[Target]] = {}
    for kind in kinds:
        check_params(kind, None)
        category = KINDS[kind].applies_to
        found: list[Target] = []
        scopes = KINDS[kind].scopes
        for pool in pools:
            if pool.serves(category):
                found += [t for t in expand(pool, category, names)
                          if t not in found and (not scopes or t.scope in scopes)]
        if not found:
            raise FaultError("targets", f"no target fits {kind} (needs {forms(category)})")
        candidates[kind] = found
    overrides = params or {}
    rng = random.Random(seed)
    placed: list[Fault] = list(existing)
    drawn: list[Fault] = []
    for _ in range(count):
        for _attempt in range(500):
            kind = kinds[rng.randrange(len(kinds))]
            pool = candidates[kind]
            target = pool[rng.randrange(len(pool))]
            length = round(rng.uniform(min_duration, max_duration), 3)
            start = round(rng.uniform(0.0, duration - length), 3)
            fault = make_fault(kind, target, start, length, overrides.get(kind), id=-1)
            instants = [t for f in placed for t in (f.start, f.end)]
            if any(abs(t - start) < spacing or abs(t - fault.end) < spacing for t in instants):
                continue
            if any(_clash(other, fault, names, True, target_gap) for other in placed):
                continue
            placed.append(fault)
            drawn.append(fault)
            break
        else:
            raise FaultError("count", f"cannot place {count} faults without overlap on a target; "
                                      "lower count or durations, or add targets")
    drawn.sort(key=lambda f: (f.start, f.kind, str(f.target)))
    return [Fault(f.kind, f.target, f.start, f.duration, f.params, first_id + i) for i, f in enumerate(drawn)]
