"""The presence part of a chaos client's workload: it types, marks read, and records what it is shown.

With ``workload.presence: true`` each client, before each send, tells the
room it is typing (the client library rate-limits that) and marks the room
read up to what it has shown; an observer records the joins and leaves,
typing indicators and read positions it shows; after the final poll the
client records the member list and read positions it converged on. The
checker's presence, receipts and typing rules judge these records
(docs/architecture.md, "History").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chaos.history import History, names_digest
from system.client import ChatClient


class PresenceRecorder:
    """A ChatClient observer writing the presence records of one client."""

    def __init__(self, name: str, history: History, client: Callable[[], ChatClient]) -> None:
        self.name, self.history, self.client = name, history, client

    def on_member(self, room: str, user: str, joined: bool, source: str) -> None:
        self.history.ok(self.name, "member", {"room": room, "user": user, "joined": joined, "source": source})

    def on_typing(self, room: str, user: str, typing: bool) -> None:
        value: dict[str, Any] = {"room": room, "user": user, "shown": typing}
        if typing:
            until = self.client().presence(room).typing.get(user)
            value["expires_in"] = round(until - time.monotonic(), 3) if until else None
        self.history.ok(self.name, "typing", value)

    def on_read(self, room: str, user: str, read_seq: int, source: str) -> None:
        self.history.ok(self.name, "read", {"room": room, "user": user, "read_seq": read_seq, "source": source})


async def type_and_mark(client: ChatClient, history: History, name: str, room: str) -> None:
    """Before a send: "typing" (when the client's rate allows a call) and mark read up to what was shown."""
    view = client.rooms.get(room)
    if view is not None and view.started:
        history.invoke(name, "typing_sent", {"room": room})
        try:
            told = await client.typing(room)
        except Exception as exc:  # noqa: BLE001 - typing is best effort: recorded, never fatal
            history.info(name, "typing_sent", {"room": room, "error": type(exc).__name__})
        else:
            if told is None:
                history.fail(name, "typing_sent", {"room": room, "error": "rate"})
            else:
                history.ok(name, "typing_sent", {"room": room, "pushed": told.pushed, "expires_ms": told.expires_ms})
        seq = view.cursor
        read = client.presence(room).reads.get(name, 0)
        if seq > read:
            history.invoke(name, "mark_read", {"room": room, "seq": seq})
            try:
                at = await client.mark_read(room, seq)
            except Exception as exc:  # noqa: BLE001 - unknown outcome: it may have been stored
                history.info(name, "mark_read", {"room": room, "seq": seq, "error": type(exc).__name__})
            else:
                history.ok(name, "mark_read", {"room": room, "seq": seq, "read_seq": at})


def record_final(client: ChatClient, history: History, name: str, room: str) -> None:
    """After the final poll: the member list and read positions this client converged on, and the version of
    the list it holds (the checker holds members at one version to one list)."""
    view = client.presence(room)
    history.ok(name, "final_presence", {"room": room, "members": sorted(view.members),
                                        "away": sorted(u for u, away in view.members.items() if away),
                                        "reads": dict(sorted(view.reads.items())),
                                        "version": view.version, "origin": view.origin})


class FinalLists:
    """A big room's final member lists, as a load worker records them (``topology.load.presence``).

    Two thousand members each recording two thousand names would be millions of names in the history for
    one fact; so each client records its list's digest (``chaos.history.names_digest``), count and version,
    and the names themselves only for the first client of this worker to show that list (one that diverged
    shows its own: it is recorded in full). The checker resolves a digest to the names recorded with it."""

    def __init__(self) -> None:
        self._written: set[tuple[str, str]] = set()  # (room, digest) recorded in full by this worker

    def record(self, client: ChatClient, history: History, name: str, room: str) -> None:
        view = client.presence(room)
        digest = names_digest(view.members)
        value: dict[str, Any] = {"room": room, "digest": digest, "count": len(view.members),
                                 "version": view.version, "origin": view.origin}
        if (room, digest) not in self._written:
            self._written.add((room, digest))
            value["members"] = sorted(view.members)
        history.ok(name, "final_presence", value)
