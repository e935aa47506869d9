"""What a mutant is, the list every planted bug registers itself in, and the helpers they share.

Test-only: ``tests/`` is not shipped. The bugs are in ``tests/mutants/planted/``, one module per
theme; :mod:`tests.mutants.registry` imports them all and adds the controls.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Mutant:
    name: str
    promise: str                  # the bug class, as the checker's promises name it
    what: str                     # the planted bug, in a few words
    scenarios: tuple[str, ...]    # the scenarios that should catch it (run in this order)
    apply: Callable[[], None]
    quick: bool = False           # in the suite's quick subset (baseline, short)


MUTANTS: list[Mutant] = []


def mutant(name: str, promise: str, what: str, scenarios: tuple[str, ...], quick: bool = False
           ) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register the decorated function as a mutant: ``MUTANTS`` holds them in import order, the table's order."""
    def register(apply: Callable[[], None]) -> Callable[[], None]:
        MUTANTS.append(Mutant(name, promise, what, scenarios, apply, quick))
        return apply
    return register


def every(n: int) -> Callable[[], bool]:
    """True on every ``n``-th call (deterministic, so a mutant bites at a steady rate)."""
    counter = itertools.count(1)
    return lambda: next(counter) % n == 0


def rewrap(cls: Any, name: str, replacement: Callable[..., Any]) -> None:
    """Replace a ``@method`` chat method where the object host finds it (``cls.methods``, built at class creation)."""
    import dataclasses
    original = cls.__dict__[name]
    replacement._request_type = original._request_type  # type: ignore[attr-defined]
    setattr(cls, name, replacement)
    cls.methods = {**cls.methods, name: dataclasses.replace(cls.methods[name], fn=replacement)}
