"""Planted bugs in the messages a client shows: lost, duplicated, reordered, phantom.

Each registers itself with ``@mutant`` (:mod:`tests.mutants.base`) on import; :mod:`tests.mutants.registry`
imports this module.
"""

from __future__ import annotations

from typing import Any

from tests.mutants.base import mutant, rewrap


# -- messages: lost, duplicated, reordered, phantom ----------------------------------------------------------
@mutant("lost_message", "lost", "the room acknowledges every 7th message but neither pushes it nor returns it "
        "to polls", ("baseline",), quick=True)
def _lost_message() -> None:
    from system.room import ChatRoom
    durable, recent = ChatRoom._durable, ChatRoom.GetRecentMessages

    class Forgetful:
        def __init__(self, port: Any) -> None:
            self.port = port

        def push(self, client_ids: list, message: Any, meta: Any) -> list:
            return [] if meta.seq % 7 == 0 else self.port.push(client_ids, message, meta)

    def _durable(self: Any, transcript: Any, batch: Any) -> None:
        port, self.port = self.port, Forgetful(self.port)
        try:
            durable(self, transcript, batch)
        finally:
            self.port = port

    async def get_recent(self: Any, request: Any, call: Any) -> Any:
        reply = await recent(self, request, call)
        keep = [m for m in reply.messages if m.seq % 7]
        del reply.messages[:]
        reply.messages.extend(keep)
        return reply

    ChatRoom._durable = _durable
    rewrap(ChatRoom, "GetRecentMessages", get_recent)


@mutant("duplicate_display", "duplicated", "the client shows every 10th pushed message twice", ("baseline",))
def _duplicate_display() -> None:
    from system.client.catchup import CatchUp
    show = CatchUp._show

    def _show(self: Any, view: Any, shown: list) -> None:
        show(self, view, shown)
        for msg, source in shown:
            if source == "push" and msg.seq % 10 == 0:
                self.observers.on_display(view.name, msg, source)

    CatchUp._show = _show


@mutant("reordered_display", "reordered", "the client holds every 10th message back and shows it after the next "
        "one", ("baseline",))
def _reordered_display() -> None:
    from system.client.catchup import CatchUp
    show = CatchUp._show
    held: dict[str, list] = {}

    def _show(self: Any, view: Any, shown: list) -> None:
        out = []
        for item in shown:
            out.append(item)
            if view.name in held:
                out.append(held.pop(view.name))
            elif item[0].seq % 10 == 5:
                held[view.name] = out.pop()
        show(self, view, out)

    CatchUp._show = _show


@mutant("phantom_message", "phantom", "the client shows a message nobody sent after every 10th push", ("baseline",),
        quick=True)
def _phantom_message() -> None:
    from system.client.catchup import CatchUp
    show = CatchUp._show

    def _show(self: Any, view: Any, shown: list) -> None:
        show(self, view, shown)
        for msg, source in shown:
            if source == "push" and msg.seq % 10 == 0:
                fake = type(msg)()
                fake.CopyFrom(msg)
                fake.client_msg_id = f"phantom-{msg.seq}"
                self.observers.on_display(view.name, fake, source)

    CatchUp._show = _show
