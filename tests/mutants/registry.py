"""The planted bugs: one small, realistic bug each, in the system or the client, and the scenarios that must catch it.

A mutant is applied by monkeypatching at process start (``tests/mutants/site/sitecustomize.py``,
on ``PYTHONPATH`` only when the runner sets ``PUSHCHAT_MUTANT``), in the chaos runner (whose
workload clients are the client library) and in every node and gate it spawns. Nothing here is
importable from an installed pushchat: ``tests/`` is not shipped, and no flag a user sees reaches it.

A new mutant goes in the themed module of ``tests/mutants/planted/`` it belongs to, decorated with
``@mutant`` (``tests/mutants/base.py``); a new theme's module is imported below. The import order
is the table's order. The controls are here.
"""

from __future__ import annotations

from typing import Any

from tests.mutants.base import MUTANTS, Mutant
from tests.mutants.planted import messages, pushes, recovery, numbering, durability  # noqa: F401 (they register)
from tests.mutants.planted.durability import claims, fences, writes
from tests.mutants.planted.numbering import deltas_filtered
from tests.mutants.planted.pushes import reopened_streams, restamping
from tests.mutants.planted.recovery import first_page_only, marks, typing_timers

__all__ = ["BY_NAME", "CONTROLS", "MUTANTS", "Mutant", "apply", "first_page_only"]


def _harmless() -> None:
    """A control, not a bug: the client's display wrapped, behaviour unchanged; it must NOT be caught."""
    from system.client.catchup import CatchUp
    show = CatchUp._show
    CatchUp._show = lambda self, view, shown: show(self, view, shown)


def _push_to_sender_mode() -> None:
    """A control: the node runs with --push-to-sender as if the runner had passed it, and says so; the echoes
    it then pushes are the mode's, not a bug, so the run must NOT be caught."""
    from system import cli_node
    add = cli_node.add_push_to_sender

    def add_push_to_sender(parser: Any) -> None:
        add(parser)
        parser.set_defaults(push_to_sender=True)

    cli_node.add_push_to_sender = add_push_to_sender


def _calls_wrapped() -> None:
    """A control: ``recovery_first_page``'s wrapping of the client's calls, cutting nothing."""
    first_page_only(cut=False)


def _rooms_restamped() -> None:
    """A control: the same copy-and-stamp of each pushed note as ``push_misfiled``, with the right room's name."""
    restamping(lambda room, note: room.name)


def _deltas_copied() -> None:
    """A control: the same copy of each page of changes as ``delta_lost``, leaving nothing out."""
    deltas_filtered(lossy=False)


def _relink_wrapped() -> None:
    """A control: the same wrapping of a re-opened node stream as ``gate_loses_after_relink``, losing nothing."""
    reopened_streams(lossy=False)


#: Controls: planted like mutants, never in the table. A harmless one that were "caught" would mean the
#: runner calls everything caught.
CONTROLS: list[Mutant] = [Mutant("harmless", "none", "the client's display wrapped, unchanged", ("baseline",),
                                 _harmless),
                         Mutant("push_to_sender_mode", "none", "the node runs with --push-to-sender and says so",
                                ("baseline",), _push_to_sender_mode),
                         Mutant("rooms_restamped", "none", "each pushed note copied and stamped with its own room",
                                ("duplicate-pushes",), _rooms_restamped),
                         Mutant("claims_wrapped", "none", "every store's claim wrapped, the record unchanged",
                                ("store-fail-restart",), lambda: claims(forget_sent=False)),
                         Mutant("writes_wrapped", "none", "the room writer's store write wrapped, its outcome unchanged",
                                ("store-fail-restart",), lambda: writes(swallow=False)),
                         Mutant("marks_wrapped", "none", "the room's MarkRead wrapped, positions kept",
                                ("member-away-pages",), lambda: marks(back=False)),
                         Mutant("typing_wrapped", "none", "the client's typing notes wrapped, timers kept",
                                ("member-away-pages",), lambda: typing_timers(expire=True)),
                         Mutant("fences_wrapped", "none", "every store's write wrapped, fencing kept",
                                ("deposed-owner-wakes",), lambda: fences(removed=False)),
                         Mutant("first_page_wrapped", "none", "the client's calls wrapped, replies unchanged",
                                ("member-away-pages",), _calls_wrapped),
                         Mutant("relink_wrapped", "none", "a re-opened node stream's reads wrapped, unchanged",
                                ("gate-node-link-drop", "node-kill-restart"), _relink_wrapped),
                         Mutant("deltas_copied", "none", "each page of member list changes copied, nothing left out",
                                ("big-room-presence",), _deltas_copied)]
BY_NAME: dict[str, Mutant] = {m.name: m for m in MUTANTS + CONTROLS}


def apply(name: str) -> None:
    """Plant mutant ``name`` in this process (unknown names are an error: a typo must not run unmutated)."""
    from tests.mutants.leaks import LEAKS  # caught by a soak (tests/chaos/soak/test_soak.py), not in the table
    (BY_NAME.get(name) or LEAKS[name]).apply()
