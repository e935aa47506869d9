"""Planted leaks: state that grows without bound while every request still succeeds (test-only).

A scenario run cannot catch these (every promise holds; a minute is too short for growth to
matter); a soak must (``pushchat chaos soak``, ``tests/chaos/soak/test_soak.py``). They are planted
like the mutants of :mod:`tests.mutants.registry` (``PUSHCHAT_MUTANT``, ``tests/mutants/site``),
but are not in its table, whose runs are scenario runs.
"""

from __future__ import annotations

from tests.mutants.base import Mutant


def _gate_keeps_sessions() -> None:
    """The gate never forgets a client's registration when its Register stream ends: one more session kept
    for every reconnection (the stream's count and the name it held are released as before)."""
    from system.access import Access
    unbind = Access.unbind

    def keep(self: Access, client_id: str) -> None:
        registration = self._registrations.get(client_id)
        unbind(self, client_id)
        if registration is not None:
            self._registrations[client_id] = registration

    Access.unbind = keep  # type: ignore[method-assign]


LEAKS: dict[str, Mutant] = {m.name: m for m in [
    Mutant("gate_keeps_sessions", "grows", "the gate keeps every ended Register stream's registration",
           ("client-stream-drop",), _gate_keeps_sessions),
]}
