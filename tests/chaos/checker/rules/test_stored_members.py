"""The stored_members rule: the store's member rows name each connected member's current client id."""

from __future__ import annotations

from chaos.checker import check
from tests.chaos.checker.checker_histories import continued, kinds, valid_run

CURRENT = {"alice": "127.0.0.1:1/alice", "bob": "127.0.0.1:1/bob2", "carol": "127.0.0.1:1/carol"}


def _judged(stored: dict[str, str], carol_cut_at_end: bool = False):
    ops, logs, metrics = valid_run()
    run = continued(ops, 0)
    for who in ("alice", "carol"):  # registered before they joined; bob re-registered as bob2 (reconnect)
        run.add(who, "invoke", "connect", addr="gate0")
        run.add(who, "ok", "connect", client_id=CURRENT[who])
    run.ops += ops[:-4]
    if carol_cut_at_end:
        run.add("carol", "info", "stream_end", error="UNAVAILABLE")
    for who in ("alice", "bob", "carol"):
        run.final_poll(who, ["a1", "c1", "a2", "a3"])
    run.add("runner", "ok", "stored_members", room="General", members=stored)
    run.done()
    return check(run.ops, logs, metrics)


def test_rows_under_the_current_client_ids_are_fine():
    r = _judged(dict(CURRENT))
    assert r.verdict == "valid" and (r.stored_members_checked, r.stored_members_stale) == (3, 0), r.violations


def test_a_row_put_back_to_an_older_client_id_is_a_violation():
    r = _judged({**CURRENT, "bob": "127.0.0.1:1/bob"})  # bob's row as a deposed owner wrote it, before bob2
    assert r.verdict == "invalid" and kinds(r) == {"stored_member_stale"} and r.stored_members_stale == 1


def test_a_missing_row_is_a_violation_and_a_member_cut_off_at_the_end_is_not_judged():
    r = _judged({"alice": CURRENT["alice"], "bob": CURRENT["bob"]}, carol_cut_at_end=True)
    assert (r.stored_members_checked, r.stored_members_stale) == (2, 0)
    r = _judged({"alice": CURRENT["alice"], "bob": CURRENT["bob"]})
    assert r.stored_members_stale == 1 and "not at all" in r.violations[0].reason
