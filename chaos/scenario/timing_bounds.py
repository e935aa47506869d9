"""Which scenario expectations timing decides, and the one check that refuses a bound on them.

A scenario's expectations must hold on any machine, loaded or not. Counts
of what a run happened to do in its time (reconnects, sends, pushes,
polls, attack rounds, faults rolled per event) and upper bounds on times
(latencies, failover) are decided by the machine's speed, so a threshold
on them flakes (``load-with-faults`` once saw 258 reconnects for its
``>= 260``). What a scenario means is said per member or per event
instead (``reconnects_missing: 0``, ``lost: 0``), keeping ``>= 1`` where
the fault's happening is the point and ``== 0`` for what must never
happen. The lists below are the one place these fields are named; the
rule is documented for users in scenarios/README.md, "Expectations".
"""

from __future__ import annotations

from chaos.scenario.fields import Bad
from chaos.scenario.model import Expectation

_FLOOR = "'>= 1' where the fault's happening is the point"
_BOOKS = "push_log_mismatches: 0 and push_unbalanced: 0 for the books"
#: Results that count what timing and load decide (how many reconnects, sends, pushes, polls, attempts, faults
#: rolled per event a run happened to make): an exact number or a threshold other than 0 or 1 is noise on a
#: loaded machine. Each may only be checked with '== 0' (must never happen) or '>= 1' / '> 0' (it happened);
#: the text says what to state instead. Documented in scenarios/README.md, "Expectations".
TIMING_COUNTS: dict[str, str] = {
    "reconnects": "reconnects_missing: 0 (every member cut off came back, judged per member), "
                  "with reconnects_due: '>= 1' (someone was cut off)",
    "reconnects_due": "reconnects_missing: 0 (every member cut off came back)",
    "sends_ok": "sends_ok: '>= 1' with sends_failed: 0 / sends_indefinite: 0 (no send went wrong) and lost: 0",
    "sends_failed": f"'== 0', or {_FLOOR}",
    "sends_indefinite": f"'== 0', or {_FLOOR}",
    "sends_indefinite_appeared": f"'== 0', or {_FLOOR}",
    "push_failures": f"{_FLOOR}, and {_BOOKS}",
    "push_failures_counted": f"{_FLOOR}, and {_BOOKS}",
    "push_drops": f"{_FLOOR}, and {_BOOKS}",
    "push_drops_counted": f"{_FLOOR}, and {_BOOKS}",
    "shown_by_final_poll": "'== 0' (recovery finished within recovery_wait), with recovery_misses: 0",
    "delivered_by_push": "'>= 1' (that path was used), with lost: 0 (every member showed every message)",
    "delivered_by_poll": "'>= 1' (that path was used), with lost: 0 (every member showed every message)",
    "delivered_by_join": "'>= 1' (that path was used), with lost: 0 (every member showed every message)",
    "failovers": "'>= 1' (a room moved), or '== 0' (none may)",
    "hostile_attempts": "'>= 1', with hostile_accepted: 0 (every attack was refused or cut short)",
    "hostile_refused": "'>= 1', with hostile_accepted: 0 (every attack was refused or cut short)",
    "hostile_inconclusive": "'== 0', or '>= 1', with hostile_accepted: 0",
    "injected_faults": f"{_FLOOR}, with injected_log_mismatches: 0",
    "injected_faults_counted": f"{_FLOOR}, with injected_log_mismatches: 0",
    "injected_drops": f"{_FLOOR}, with injected_log_mismatches: 0",
    "injected_duplicates": f"{_FLOOR}, with injected_log_mismatches: 0",
    "injected_reorders": f"{_FLOOR}, with injected_log_mismatches: 0",
    "injected_delays": f"{_FLOOR}, with injected_log_mismatches: 0",
    "injected_aborts": f"{_FLOOR}, with injected_log_mismatches: 0",
    "injected_store_failures": f"{_FLOOR}, with injected_log_mismatches: 0",
    "receipts_shown": "'>= 1' (the receipts rule judged something)",
    "typing_shown": "'>= 1' (the typing rule judged something)",
    "cuts_noticed": "'>= 1' (a cut was noticed), with cuts_unnoticed: 0 (every one was)",
}
#: Results that are times (s): a loaded machine only makes them longer, so a floor an injected delay guarantees
#: ('> X', '>= X') holds, and a ceiling ('<', '<=', '==', a list) is a race. State per event what must happen.
TIMING_TIMES: dict[str, str] = {
    **{name: "a floor an injected delay guarantees ('>= X'); for 'fast enough', what must happen per message "
             "(lost: 0, recovery_misses: 0, shown_by_final_poll: 0)"
       for name in ("latency_min", "latency_p50", "latency_p95", "latency_p99", "latency_max")},
    "detection_max": "cuts_unnoticed: 0 (every cut was noticed while it lasted) with cuts_noticed: '>= 1'",
    "failover_max": "failovers: '>= 1' (the rooms moved) with lost: 0 and lost_by_server: 0",
    "duration": "nothing: how long the history runs is the machine's business",
}


def refuse_timing_bound(ex: Expectation) -> None:
    """Refuse a bound that timing or load decides (``TIMING_COUNTS``, ``TIMING_TIMES``), saying what instead."""
    said = f"{ex.name} {ex.wanted}" if ex.op != "in" else f"{ex.name} in [{', '.join(map(str, ex.value))}]"
    if ex.name in TIMING_COUNTS and (ex.op, ex.value) not in (("==", 0), (">", 0), (">=", 1)):
        raise Bad(f"'{said}' counts what timing and load decide; check it only with '== 0' or '>= 1': "
                  f"write {TIMING_COUNTS[ex.name]}")
    if ex.name in TIMING_TIMES and ex.op not in (">", ">="):
        raise Bad(f"'{said}' bounds a time from above, which a loaded machine can exceed; write "
                  f"{TIMING_TIMES[ex.name]}")
