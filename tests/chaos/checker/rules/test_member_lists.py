"""The presence rule: after the final poll each member's list must be the room's members."""

from __future__ import annotations

from chaos.checker import Evidence, check
from chaos.checker.rules.member_lists import presence
from tests.chaos.checker.checker_histories import Run, valid_run


def run_with(final: dict[str, list[str]], leave: str | None = None) -> Run:
    run = Run()
    for who in ("alice", "bob", "carol"):
        run.join(who)
    run.add("bob", "ok", "member", room="General", user="carol", joined=True, source="push")
    if leave:
        run.add(leave, "ok", "leave", room="General")
    for who, members in final.items():
        run.add(who, "ok", "final_presence", room="General", members=members, away=[], reads={})
    return run


def test_converged_lists_are_valid_and_counted() -> None:
    everyone = ["alice", "bob", "carol"]
    found = presence(Evidence.read(run_with({"alice": everyone, "bob": everyone, "carol": everyone}).ops))
    assert found.violations == [] and found.values == {"presence_checked": 3, "presence_diverged": 0}


def test_a_member_missing_from_a_view_or_one_that_left_still_shown_is_rejected() -> None:
    run = run_with({"alice": ["alice", "bob"], "bob": ["alice", "bob", "carol"]}, leave="carol")
    found = presence(Evidence.read(run.ops))
    [violation] = found.violations
    assert (violation.kind, violation.member) == ("presence_diverged", "bob") and "extra carol" in violation.reason
    run = run_with({"alice": ["alice", "carol"], "bob": ["alice", "bob", "carol"], "carol": ["alice", "bob", "carol"]})
    [violation] = presence(Evidence.read(run.ops)).violations
    assert violation.member == "alice" and "missing bob" in violation.reason


def test_a_run_without_presence_records_is_not_judged_and_a_doctored_one_is_invalid() -> None:
    history, logs, metrics = valid_run()
    assert check(history, logs, metrics).presence_checked == 0
    last = max(op["index"] for op in history)
    extra = {"index": last + 1, "time": 99.0, "process": "bob", "type": "ok", "f": "final_presence",
             "value": {"room": "General", "members": ["bob"], "away": [], "reads": {}}}
    results = check([*history, extra], logs, metrics)
    assert results.verdict == "invalid" and results.presence_diverged == 1


# -- a versioned list: deltas missed and made good, or lost for good ------------------------------------------
EVERYONE = ["alice", "bob", "carol", "dave"]
V1, V2, V3 = 1_000_001, 1_000_002, 1_000_003   # the room's list after dave joined (V1) and carol left (V3)
ORIGIN = 1_000_000


def versioned(finals: dict[str, tuple[list[str], int]], bob_caught_up: bool = True) -> Run:
    """Four members; carol leaves. bob's pushes of dave's join and carol's leave were lost: his next poll's
    page (the changes since his version) brings them, unless ``bob_caught_up`` is False."""
    run = Run()
    for who in EVERYONE:
        run.join(who)
    for who in ("alice", "carol"):
        run.add(who, "ok", "member", room="General", user="dave", joined=True, source="push")
    run.add("carol", "invoke", "leave", room="General")
    run.add("carol", "ok", "leave", room="General")
    run.add("alice", "ok", "member", room="General", user="carol", joined=False, source="push")
    if bob_caught_up:
        run.add("bob", "ok", "member", room="General", user="dave", joined=True, source="poll")
        run.add("bob", "ok", "member", room="General", user="carol", joined=False, source="poll")
    for who, (members, version) in finals.items():
        run.add(who, "ok", "final_presence", room="General", members=members, away=[], reads={}, version=version,
                origin=ORIGIN)
    return run


def test_a_member_who_missed_deltas_and_caught_up_from_a_page_and_a_version_is_valid() -> None:
    now = ["alice", "bob", "dave"]
    found = presence(Evidence.read(versioned({"alice": (now, V3), "bob": (now, V3), "dave": (now, V3)}).ops))
    assert found.violations == [] and found.values == {"presence_checked": 3, "presence_diverged": 0}


def test_a_missed_delta_never_made_good_is_rejected_against_the_room_and_against_its_version() -> None:
    run = versioned({"alice": (["alice", "bob", "dave"], V3), "bob": (["alice", "bob"], V3),
                     "dave": (["alice", "bob", "dave"], V3)}, bob_caught_up=False)
    found = presence(Evidence.read(run.ops))
    assert sorted((v.kind, v.member) for v in found.violations) == [("presence_diverged", "bob"),
                                                                    ("presence_version_split", "bob")]
    assert all("missing dave" in v.reason for v in found.violations)
    assert found.values["presence_diverged"] == 1  # one member's list, however many ways it is wrong


def test_a_stale_version_is_rejected() -> None:
    """bob's list stopped at dave's join (V1): carol, gone since V3, is still in it."""
    run = versioned({"alice": (["alice", "bob", "dave"], V3), "bob": (["alice", "bob", "carol", "dave"], V1),
                     "dave": (["alice", "bob", "dave"], V3)}, bob_caught_up=False)
    [violation] = presence(Evidence.read(run.ops)).violations
    assert (violation.kind, violation.member) == ("presence_diverged", "bob") and "extra carol" in violation.reason


def test_a_list_at_a_version_that_names_another_list_is_rejected_even_when_the_room_cannot_be_told() -> None:
    """eve's join had no answer (its outcome unknown): the room's members cannot be told from the history, but
    a version is one list, and bob shows another at it."""
    run = versioned({"alice": (["alice", "bob", "dave", "eve"], V3), "bob": (["alice", "bob", "dave"], V3),
                     "dave": (["alice", "bob", "dave", "eve"], V3)})
    run.add("eve", "invoke", "join", room="General")
    run.add("eve", "info", "join", room="General", error="DEADLINE_EXCEEDED")
    found = presence(Evidence.read(run.ops))
    split = [v for v in found.violations if v.kind == "presence_version_split"]
    assert [v.member for v in split] == ["bob"] and "missing eve" in split[0].reason


def test_a_big_rooms_lists_recorded_by_digest_are_resolved_and_judged() -> None:
    """As a load worker records them: the first client of a list names it, the others give its digest; a digest
    recorded nowhere in full is compared with the room's."""
    from chaos.history import names_digest
    names = [f"load{i:02d}" for i in range(40)]
    run = Run()
    for who in names:
        run.join(who)
    right, short = names_digest(names), names_digest(names[1:])
    run.add(names[0], "ok", "final_presence", room="General", members=names, digest=right, count=40,
            version=V1, origin=ORIGIN)
    for who in names[1:-1]:
        run.add(who, "ok", "final_presence", room="General", digest=right, count=40, version=V1, origin=ORIGIN)
    found = presence(Evidence.read(run.ops))
    assert found.violations == [] and found.values["presence_checked"] == 39
    run.add(names[-1], "ok", "final_presence", room="General", digest=short, count=39, version=V2, origin=ORIGIN)
    [violation] = presence(Evidence.read(run.ops)).violations
    assert violation.member == names[-1] and "39 names" in violation.reason and "the room's 40" in violation.reason
