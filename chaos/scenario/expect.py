"""A scenario file's expectations: ``expect`` (and ``expect_on``, per system under test) read into
``Expectation`` objects, every problem noted with its field path (``chaos.scenario.files`` reads the rest)."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any, Mapping

from chaos.checker import EXPECTABLE, Summary
from chaos.checker.systems import SYSTEMS
from chaos.scenario.fields import Bad, Problems, Section, list_of, what
from chaos.scenario.model import OPS, Expectation
from chaos.scenario.timing_bounds import refuse_timing_bound

_COMPARISON = re.compile(r"^\s*(==|!=|<=|>=|<|>)\s*(\S+)\s*$")
_TEXT_RESULTS = frozenset(f.name for f in fields(Summary) if f.type in ("str", str))
VERDICTS = ("valid", "invalid", "unknown")


#: Stores that keep what they acknowledged across a crash: with one, ``lost_by_server == 0`` is always expected.
DURABLE_STORES = ("sqlite", "postgres")


def expect_of(problems: Problems, value: Any, store: str | None = None, where: str = "expect"
            ) -> tuple[Expectation, ...]:
    sec = Section(problems, where, value, EXPECTABLE)
    out = [sec.get(name, lambda v, name=name: expectation(name, v)) for name in sec.data if name in EXPECTABLE]
    if "verdict" not in sec.data:  # a scenario that forgets it still must not pass on an invalid run
        out.insert(0, Expectation("verdict", "==", "valid"))
    if store in DURABLE_STORES and "lost_by_server" not in sec.data:  # a durable store forgets nothing it acked
        out.append(Expectation("lost_by_server", "==", 0))
    return tuple(out)


def expectation(name: str, value: Any) -> Expectation:
    textual = name in _TEXT_RESULTS

    def literal(v: Any) -> Any:
        if textual:
            if not isinstance(v, str):
                raise Bad(f"must be a word, not {what(v)}")
            if name == "verdict" and v not in VERDICTS:
                raise Bad(f"must be one of {', '.join(VERDICTS)}, not {v!r}")
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise Bad(f"must be a number or a comparison such as '> 0', not {what(v)}")
        return v

    ex = _bound(name, value, literal, textual)
    refuse_timing_bound(ex)
    return ex


def _bound(name: str, value: Any, literal: Any, textual: bool) -> Expectation:
    if isinstance(value, list):
        values = list_of(literal)(value)
        if name == "verdict" and {"valid", "invalid"} <= set(values):
            raise Bad("accepts both valid and invalid, so it can never fail; say which verdict the scenario expects")
        return Expectation(name, "in", values)
    if isinstance(value, str) and not textual and value.strip()[:1] in tuple("<>=!"):
        m = _COMPARISON.match(value)
        try:
            amount = float(m[2]) if m else None
        except ValueError:
            amount = None
        if m is None or amount is None:
            raise Bad(f"cannot read {value!r}; write '<op> <number>' with op one of {', '.join(OPS)}")
        return Expectation(name, m[1], int(amount) if amount.is_integer() else amount)
    return Expectation(name, "==", literal(value))


def expect_on_of(sec: Section) -> tuple[tuple[str, tuple[Expectation, ...]], ...]:
    """``expect_on: {goverse: {...}}``: what a run against that system must show, in place of ``expect``."""
    return tuple((str(system), expect_of(sec.problems, sec.data[system], where=f"expect_on.{system}"))
                 for system in (sec.data if isinstance(sec.data, Mapping) else ()) if system in SYSTEMS)
