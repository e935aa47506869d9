"""What the client tells its user: the observer hooks, defined here once.

An observer is any object with some of :class:`Observer`'s methods (or a
subclass of it): each hook is called only on the observers that have it,
and an observer that raises is logged, never allowed to stop the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from system import log
from system.pb import chat_pb2

if TYPE_CHECKING:
    from system.client.results import PollResult

_log = log.get("client")


class Observer:
    """Every hook the client calls, each doing nothing: subclass it and override the ones you need."""

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        """A message was shown, once per (room, seq) and epoch, in seq order; ``source``: push, poll or join."""

    def on_push(self, room: str, message: chat_pb2.ChatMessage) -> None:
        """A push arrived (every raw push, before deduplication)."""

    def on_stream_end(self, error: BaseException | None) -> None:
        """The Register stream ended without ``close()``; a reconnecting client re-registers next."""

    def on_refused(self, error: BaseException) -> None:
        """The gate refused this client for good (UNAUTHENTICATED: no token, a bad or an expired one;
        PERMISSION_DENIED): it stops reconnecting, and calls fail at once."""

    def on_reconnecting(self, attempt: int, error: BaseException | None, wait: float) -> None:
        """Before each backoff sleep: attempt ``attempt`` (2, 3, …) starts in ``wait`` seconds."""

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        """Re-registered, re-joined every room and caught up; ``recovered`` messages were shown by the re-joins' replies
        and the recovery polls."""

    def on_recovery_incomplete(self, room: str, first_available_seq: int, cursor: int) -> None:
        """Messages after ``cursor`` were trimmed before we fetched them; we go on from what is left."""

    def on_history_reset(self, room: str) -> None:
        """The room's history started again (its node lost its data): its seqs count from 1 again."""

    def on_gap(self, room: str, after_seq: int) -> None:
        """A message after a gap arrived; a poll after ``after_seq`` fills the gap."""

    def on_poll(self, room: str, after_seq: int, reason: str) -> None:
        """A poll starts, whoever asked for it; ``reason``: user, recovery, gap, silence or reset."""

    def on_polled(self, room: str, after_seq: int, reason: str, result: PollResult | None,
                  error: BaseException | None) -> None:
        """A poll ended: with its ``result`` (the messages it newly showed) or its ``error``."""

    def on_member(self, room: str, user: str, joined: bool, source: str) -> None:
        """``user`` joined (or left) ``room`` as far as this client knows; ``source``: push, join, poll or members."""

    def on_typing(self, room: str, user: str, typing: bool) -> None:
        """``user`` started to show as typing in ``room`` (True), or stopped: its expiry passed or its message came."""

    def on_read(self, room: str, user: str, read_seq: int, source: str) -> None:
        """``user`` has read ``room`` up to ``read_seq`` (it only grows); ``source``: push, join, poll or members."""


HOOKS: tuple[str, ...] = tuple(name for name in vars(Observer) if name.startswith("on_"))


class Observers(Observer):
    """The user's observers as one: calling a hook calls it on each observer that has it."""

    def __init__(self, observers: Iterable[object]) -> None:
        self.all = list(observers)

    def _tell(self, hook: str, *args: object) -> None:
        for observer in self.all:
            method = getattr(observer, hook, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception:  # an observer's bug must not stop the listener
                _log.exception("observer %s failed", hook)


def _fan_out(hook: str) -> Callable[..., None]:
    def tell(self: Observers, *args: object) -> None:
        self._tell(hook, *args)

    tell.__name__ = tell.__qualname__ = hook
    tell.__doc__ = getattr(Observer, hook).__doc__
    return tell


for _hook in HOOKS:
    setattr(Observers, _hook, _fan_out(_hook))
