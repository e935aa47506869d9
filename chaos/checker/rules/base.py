"""What a checker rule is, and the one registry of them.

As Maelstrom's ``checker/compose``: each rule reads the run's evidence on
its own and returns a :class:`Finding` (its numbers, its violations, what it
could not decide); :func:`chaos.checker.check` merges the findings, and the
run is valid only if every rule found it so.

A rule declares the result fields it ``owns`` (no two rules own one, so the
merge never depends on order) and the violation ``kinds`` it reports. A rule
that needs another's numbers says so in ``needs``: it runs after their
owners and gets them as its second argument. Registration order (the
imports in ``rules/__init__.py``) is only the order of the violations in
the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from chaos.checker.evidence import Evidence
from chaos.checker.model import DERIVED, RESULT_FIELDS, Violation
from chaos.checker.systems import OBSERVABLES


@dataclass
class Finding:
    """One rule's contribution to the results."""

    values: dict[str, Any] = field(default_factory=dict)  # result fields the rule owns
    violations: list[Violation] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)   # why the run could not be judged
    not_applicable: dict[str, str] = field(default_factory=dict)  # owned field -> why the run cannot judge it

    def violation(self, kind: str, reason: str, room: str | None = None, member: str | None = None,
                  message: str | None = None) -> None:
        self.violations.append(Violation(kind, reason, room, member, message))


Check = Callable[..., Finding]  # (evidence) or, with needs, (evidence, {needed field: value})


@dataclass(frozen=True)
class Rule:
    name: str
    check: Check
    owns: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # what the system must expose (chaos.checker.systems), or the rule is n/a

    def run(self, evidence: Evidence, given: Mapping[str, Any]) -> Finding:
        """The rule's finding; ``given``: the values of what it needs."""
        finding = self.check(evidence, given) if self.needs else self.check(evidence)
        stray = (set(finding.values) | set(finding.not_applicable)) - set(self.owns)
        if stray:
            raise ValueError(f"checker rule {self.name!r} set {', '.join(sorted(stray))}, which it does not own")
        odd = {v.kind for v in finding.violations} - set(self.kinds)
        if odd:
            raise ValueError(f"checker rule {self.name!r} reported {', '.join(sorted(odd))}, "
                             "which are not among its kinds")
        return finding


#: Every rule, in registration order.
RULES: list[Rule] = []


def register(new: Rule) -> Rule:
    """Add a rule; refuse one whose name, owned fields or violation kinds another rule has."""
    unknown = [f for f in (*new.owns, *new.needs) if f not in RESULT_FIELDS]
    if unknown:
        raise ValueError(f"checker rule {new.name!r}: no result field {', '.join(unknown)}")
    unseen = [r for r in new.requires if r not in OBSERVABLES]
    if unseen:
        raise ValueError(f"checker rule {new.name!r}: no observable {', '.join(unseen)} (chaos.checker.systems)")
    derived = [f for f in new.owns if f in DERIVED]
    if derived:
        raise ValueError(f"checker rule {new.name!r}: {', '.join(derived)} are derived by check(), not owned")
    for old in RULES:
        clash = (old.name == new.name and ["its name"]) or [f for f in new.owns if f in old.owns] \
            or [k for k in new.kinds if k in old.kinds]
        if clash:
            raise ValueError(f"checker rule {new.name!r}: {', '.join(clash)} already belong to {old.name!r}")
    RULES.append(new)
    return new


def unregister(name: str) -> Rule:
    """Remove a rule by name (tests register their own and take them out again)."""
    found = next((r for r in RULES if r.name == name), None)
    if found is None:
        raise KeyError(f"no checker rule {name!r}")
    RULES.remove(found)
    return found


def rule(name: str, *, owns: tuple[str, ...] = (), kinds: tuple[str, ...] = (),
         needs: tuple[str, ...] = (), requires: tuple[str, ...] = ()) -> Callable[[Check], Check]:
    """Register the decorated function as a rule; it stays a plain function, callable in tests."""
    def decorate(check: Check) -> Check:
        register(Rule(name, check, tuple(owns), tuple(kinds), tuple(needs), tuple(requires)))
        return check
    return decorate


def in_order(rules: list[Rule]) -> list[Rule]:
    """Registration order, except that a rule runs after the owners of what it needs."""
    owner = {f: r for r in rules for f in r.owns}
    done: list[Rule] = []
    seen: set[str] = set()
    visiting: set[str] = set()

    def visit(r: Rule) -> None:
        if r.name in seen:
            return
        if r.name in visiting:
            raise ValueError(f"checker rule {r.name!r} needs, through others, its own numbers")
        visiting.add(r.name)
        for need in r.needs:
            if need not in owner:
                raise ValueError(f"checker rule {r.name!r} needs {need}, which no rule provides")
            visit(owner[need])
        visiting.discard(r.name)
        seen.add(r.name)
        done.append(r)

    for r in rules:
        visit(r)
    return done
