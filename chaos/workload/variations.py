"""Workload variations that make the presence rules bite: stale read receipts and typing without sending.

The plain workload is too polite to catch some bugs: every member marks read
forwards only, and every typist sends right after typing, so its message
clears the indicator before any expiry is needed. Here:

- a *stale reader* (``workload.stale_readers``: a lagging or hostile member)
  marks read behind itself after each send, half way back to the start; the
  room must keep its position (a read position never goes back), which the
  ``read_replies`` rule judges from the replies;
- a *typist* (``workload.typists``) says it is typing through the first
  quarter of the workload and never sends: every other member must stop
  showing it within the expiry (the ``typing`` rule). A quarter, so that the
  rest of the run outlasts the expiry and its tolerance (4 s) even when
  recovery ends at once: a run of 6 s leaves at least 4.5 s.

A member away while many messages go by needs no code here: a ``disable``
fault on its link and a small ``topology.page_size`` make its recovery page.
"""

from __future__ import annotations

import asyncio
import time
from typing import Sequence

from chaos.history import History
from system.client import ChatClient

TYPING_EVERY = 0.5  # s between a typist's "typing" calls (the client library rate-limits them further)
TYPING_PART = 0.25  # of the workload's duration a typist types in, from its start


async def stale_mark(client: ChatClient, history: History, name: str, room: str) -> None:
    """Mark ``room`` read at half of what this member has shown: behind its own position, on purpose."""
    view = client.rooms.get(room)
    if view is None or view.cursor < 2:
        return
    seq = view.cursor // 2
    history.invoke(name, "mark_read", {"room": room, "seq": seq, "stale": True})
    try:
        at = await client.mark_read(room, seq)
    except Exception as exc:  # noqa: BLE001 - unknown outcome: recorded, never fatal
        history.info(name, "mark_read", {"room": room, "seq": seq, "stale": True, "error": type(exc).__name__})
    else:
        history.ok(name, "mark_read", {"room": room, "seq": seq, "stale": True, "read_seq": at})


async def type_without_sending(client: ChatClient, history: History, name: str, rooms: Sequence[str],
                               until: float) -> None:
    """Say "typing" in every room every ``TYPING_EVERY`` s until ``until`` (monotonic); never send."""
    while time.monotonic() < until:
        for room in rooms:
            history.invoke(name, "typing_sent", {"room": room})
            try:
                told = await client.typing(room)
            except Exception as exc:  # noqa: BLE001 - typing is best effort
                history.info(name, "typing_sent", {"room": room, "error": type(exc).__name__})
                continue
            if told is None:
                history.fail(name, "typing_sent", {"room": room, "error": "rate"})
            else:
                history.ok(name, "typing_sent", {"room": room, "pushed": told.pushed, "expires_ms": told.expires_ms})
        await asyncio.sleep(max(0.0, min(TYPING_EVERY, until - time.monotonic())))  # the typing rate itself
