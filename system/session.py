"""A push stream's sessions, on both hops: how one ends, and how the next is opened.

A session is one stream from its opening to its end (a client's
``Register`` stream to its gate, a gate's ``RegisterGate`` stream to a
node). When it ends, the next is opened after a capped, fully jittered
backoff; a session that had stayed up long enough (``healthy``) was not a
failed attempt, so the count starts over and the next opens at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential


class StreamLost(Exception):
    """A session's stream ended: ``reason`` for the logs, the ``error`` that ended it if any, and when."""

    def __init__(self, reason: str, healthy: bool, error: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.healthy = healthy
        self.error = error
        self.at = time.monotonic()


class GiveUp(Exception):
    """The other end refused us for good (e.g. an expired token): stop re-opening."""


def _try_again(exc: BaseException) -> bool:
    """A failed attempt (the stream never came up, or soon fell): back off. A healthy loss starts over."""
    return isinstance(exc, Exception) and not isinstance(exc, GiveUp) and not (isinstance(exc, StreamLost)
                                                                             and exc.healthy)


async def keep_open(session: Callable[[int], Awaitable[None]], *, backoff_min: float, backoff_max: float,
                    running: Callable[[], bool],
                    before_sleep: Callable[[RetryCallState], None] | None = None) -> None:
    """Run ``session(attempt)`` again and again while ``running()``; cancel the caller's task to stop.

    ``session`` opens a stream and returns or raises when it ends; ``attempt``
    counts from 1 since the last healthy session. ``before_sleep`` is told of
    each backoff (its ``upcoming_sleep`` and the ``outcome`` that caused it).
    """
    while running():
        retrying = AsyncRetrying(wait=wait_random_exponential(multiplier=backoff_min, max=backoff_max),
                                 retry=retry_if_exception(_try_again), before_sleep=before_sleep, reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    await session(attempt.retry_state.attempt_number)
        except StreamLost:  # healthy: it stayed up long enough, count attempts from 1 again
            continue
        except GiveUp:
            return
