"""JUnit XML for CI systems: one testcase per scenario run, written with junitparser.

A run that missed its expectations is a ``failure`` carrying the expectations
table and the violations; a run that could not be judged (it broke off, or
the checker could not decide) is an ``error``. Everything here reads
results.json-shaped dicts, so a campaign's cells and a single run share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from chaos.reports import tables as report

MAX_VIOLATIONS = 50


@dataclass(frozen=True)
class Case:
    """One scenario run as a CI system sees it."""

    name: str
    classname: str
    seconds: float
    outcome: str                      # met, failed, not judged, not run (this machine cannot: error says why)
    expectations: Sequence[Any] = ()  # ExpectationOutcome or its dict
    violations: Sequence[Any] = ()    # checker Violation or its dict
    incomplete: Sequence[str] = ()
    error: str | None = None
    folder: str = ""
    rerun: str = ""


def _unmet(expectations: Sequence[Any]) -> str:
    bad = [e for e in expectations if not report.field(e, "passed")]
    said = "; ".join(f"{report.field(e, 'name')} {report.field(e, 'wanted')} (actual "
                     f"{report.field(e, 'actual')})" for e in bad)
    return f"{len(bad)} of {len(expectations)} expectations not met: {said}"


def _detail(case: Case) -> str:
    parts = [report.expectations_table(case.expectations)] if case.expectations else []
    if case.violations:
        lines = [f"violations ({len(case.violations)}):"]
        lines += [f"  [{report.field(v, 'kind')}] {report.field(v, 'reason')}"
                  for v in case.violations[:MAX_VIOLATIONS]]
        if len(case.violations) > MAX_VIOLATIONS:
            lines.append(f"  ... and {len(case.violations) - MAX_VIOLATIONS} more in results.json")
        parts.append("\n".join(lines))
    if case.incomplete:
        parts.append("\n".join(["incomplete (verdict can be at best unknown):", *(f"  {i}" for i in case.incomplete)]))
    if case.error:
        parts.append(f"error: {case.error}")
    if case.folder:
        parts.append(f"run folder: {case.folder}")
    if case.rerun:
        parts.append(f"re-run: {case.rerun}")
    return "\n\n".join(parts)


def _why_not_judged(case: Case) -> str:
    if case.error:
        return case.error
    if case.incomplete:
        return "the checker could not decide: " + "; ".join(case.incomplete)
    return _unmet(case.expectations)


NOT_RUN = "not run"


def testcase(case: Case) -> TestCase:
    tc = TestCase(case.name, case.classname, round(case.seconds, 3))
    if case.outcome == "failed":
        failure = Failure(_unmet(case.expectations), "expectations not met")
        failure.text = _detail(case)
        tc.result = [failure]
    elif case.outcome == NOT_RUN:
        tc.result = [Skipped(case.error or "", NOT_RUN)]
    elif case.outcome != "met":
        error = Error(_why_not_judged(case), "not judged")
        error.text = _detail(case)
        tc.result = [error]
    if case.folder:
        tc.system_out = f"run folder: {case.folder}\n" + (f"re-run: {case.rerun}\n" if case.rerun else "")
    return tc


def write(path: str | Path, suite: str, cases: Iterable[Case]) -> Path:
    """One ``<testsuite>`` named ``suite`` in a ``<testsuites>`` document at ``path``."""
    ts = TestSuite(suite)
    for case in cases:
        ts.add_testcase(testcase(case))
    ts.update_statistics()
    xml = JUnitXml()
    xml.add_testsuite(ts)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path), pretty=True)
    return path
