"""The systems the harness can judge, and what each lets it observe (pure).

A rule that needs something a system does not expose (sequence numbers, a
read of a room's history, our structured log events, our counters, …) is
*not applicable* to a run of that system: it reports n/a with the reason,
never a pass it could not have earned (``chaos.checker.compose``).
"""

from __future__ import annotations

SYSTEMS: tuple[str, ...] = ("pushchat", "goverse")
DEFAULT_SYSTEM = "pushchat"

#: What a run can expose to the checker -> how a reason names it.
OBSERVABLES: dict[str, str] = {
    "seq": "sequence numbers on messages (acknowledgements, pushes, polls)",
    "history_read": "a read of a room's messages (a poll, the final poll)",
    "room_in_push": "the room a pushed message belongs to",
    "server_events": "pushchat's structured server log events (message_stored, client_registered, …)",
    "counters": "pushchat's Prometheus counters (pushes attempted, delivered, failed, per stream)",
    "fault_points": "in-process fault points",
    "presence": "presence, typing and read receipts",
    "push_failure_lines": "a log line for each failed or dropped push",
}

EXPOSES: dict[str, frozenset[str]] = {
    "pushchat": frozenset(OBSERVABLES),
    # Goverse's chat sample (1122ada): ChatRoom has Join and SendMessage only (no read of its messages), a
    # message is (user_name, message, timestamp), a push is Client_NewMessageNotification with no room, and its
    # logs are text lines, of which the push failures and drops are recognised (chaos.infra.goverse_logs).
    "goverse": frozenset({"push_failure_lines"}),
}

#: Systems whose rooms push each message to its sender too (Goverse's ChatRoom.go: "including sender").
PUSHES_TO_SENDER: frozenset[str] = frozenset({"goverse"})


def missing(system: str, needs: tuple[str, ...]) -> list[str]:
    """What of ``needs`` the system does not expose (an unknown system exposes everything: pushchat's runs
    from before the field existed)."""
    exposed = EXPOSES.get(system, EXPOSES[DEFAULT_SYSTEM])
    return [n for n in needs if n not in exposed]


def reason(system: str, lacking: list[str]) -> str:
    """One line: why a rule cannot judge a run of ``system``."""
    return f"{system} does not expose " + "; nor ".join(OBSERVABLES[n] for n in lacking)
