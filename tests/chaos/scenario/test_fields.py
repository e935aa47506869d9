"""Typed field checks: every problem of a document noted once, with its field path."""

from __future__ import annotations

import pytest

from chaos.scenario.fields import Bad, Problems, Section, list_of, number, one_line, one_of, text


def test_a_section_notes_unknown_keys_with_the_likely_one_and_missing_ones():
    problems = Problems("f.yaml")
    sec = Section(problems, "workload", {"durration": 3, "rate": "fast"}, ("duration", "rate", "senders"))
    assert sec.get("duration", number(positive=True)) is None  # the typo is the problem: not also "required"
    assert sec.get("rate", number(positive=True), 10.0) == 10.0
    assert sec.get("senders", list_of(text)) is None
    assert problems.found == [
        ("f.yaml", "workload.durration", "unknown key (did you mean 'duration'?)"),
        ("f.yaml", "workload.rate", "must be a positive number, not a str ('fast')"),
        ("f.yaml", "workload.senders", "is required"),
    ]
    assert sec.failed


def test_a_section_that_is_not_a_mapping_is_one_problem():
    problems = Problems("f.yaml")
    sec = Section(problems, "topology", ["alice"], ("nodes",))
    assert sec.get("nodes", number(), 1) == 1 and sec.get("clients", text) is None
    assert problems.found == [("f.yaml", "topology", "must be a mapping, not a list (['alice'])")]


def test_a_list_reports_each_bad_item_at_its_index():
    check = list_of(number(minimum=1, integer=True))
    assert check([1, 2.0]) == (1, 2)
    with pytest.raises(Bad) as info:
        check([1, 0, "x", 1])
    assert info.value.under("nodes") == [("nodes[1]", "must be a whole number >= 1, not 0"),
                                         ("nodes[2]", "must be a whole number, not a str ('x')"),
                                         ("nodes[3]", "1 is listed twice")]
    with pytest.raises(Bad, match="must be a non-empty list, not nothing"):
        check(None)


def test_choices_and_text():
    assert one_of(("sqlite", "postgres"))("postgres") == "postgres"
    with pytest.raises(Bad, match=r"must be one of sqlite, postgres, not a str \('postgress'\) \(did you mean"):
        one_of(("sqlite", "postgres"))("postgress")
    assert text("  General ") == "General"
    with pytest.raises(Bad, match="must be one line"):
        one_line("two\nlines")
