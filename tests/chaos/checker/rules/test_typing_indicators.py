"""The typing rule: an indicator is never shown past the typist's last typing + expiry + tolerance, nor
without a typing before it, and it is never stored as a message."""

from __future__ import annotations

from chaos.checker import Evidence
from chaos.checker.rules.typing_indicators import TOLERANCE, typing
from tests.chaos.checker.checker_histories import Run


def typed(run: Run, at: float, expires_ms: int = 1000) -> None:
    run.ops.append({"index": len(run.ops), "time": at, "process": "alice", "type": "invoke", "f": "typing_sent",
                    "value": {"room": "General"}})
    run.ops.append({"index": len(run.ops), "time": at, "process": "alice", "type": "ok", "f": "typing_sent",
                    "value": {"room": "General", "pushed": True, "expires_ms": expires_ms}})


def shown(run: Run, at: float, on: bool) -> None:
    run.ops.append({"index": len(run.ops), "time": at, "process": "bob", "type": "ok", "f": "typing",
                    "value": {"room": "General", "user": "alice", "shown": on}})


def test_an_indicator_refreshed_then_cleared_within_its_expiry_is_valid() -> None:
    run = Run()
    typed(run, 1.0)
    shown(run, 1.1, True)
    typed(run, 1.8)
    shown(run, 2.7, False)
    found = typing(Evidence.read(run.ops))
    assert found.violations == [] and found.values == {"typing_shown": 1, "typing_overstayed": 0, "typing_stored": 0}


def test_an_indicator_cleared_late_or_never_is_rejected() -> None:
    run = Run()
    typed(run, 1.0)
    shown(run, 1.1, True)
    shown(run, 1.0 + 1.0 + TOLERANCE + 0.5, False)
    [violation] = typing(Evidence.read(run.ops)).violations
    assert violation.kind == "typing_overstayed" and "more than the expiry 1 s" in violation.reason
    run = Run()
    typed(run, 1.0)
    shown(run, 1.1, True)
    run.ops.append({"index": len(run.ops), "time": 9.0, "process": "runner", "type": "info", "f": "phase",
                    "value": {"name": "done"}})
    [violation] = typing(Evidence.read(run.ops)).violations
    assert "never cleared" in violation.reason


def test_an_indicator_nobody_typed_and_a_stored_typing_are_rejected() -> None:
    run = Run()
    shown(run, 0.5, True)
    shown(run, 0.6, False)
    run.final_poll("bob", ["typing:alice"])  # the server holds a "message" nobody sent
    kinds = sorted(v.kind for v in typing(Evidence.read(run.ops)).violations)
    assert kinds == ["typing_overstayed", "typing_stored"]
