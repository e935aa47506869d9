"""What a failed call means and how it is told: definite or not, in a person's words."""

from __future__ import annotations

import grpc

from system.client import (LinkDown, NotSent, ProtocolError, SendFailed, cause, describe, stored_verdict,
                           surely_not_stored)
from system.objects import STORED_KEY


def test_a_send_failure_names_the_room_and_the_cause_not_an_internal_id() -> None:
    def failed(**kw: object) -> str:
        args = {"definite": True, "room": "General", "client_msg_id": "5af43491c0ffee", "attempts": 1, **kw}
        return SendFailed(grpc.StatusCode.UNAVAILABLE, "timed out", **args).details()  # type: ignore[arg-type]

    assert failed() == "message to General not sent: timed out"
    assert failed(definite=False, attempts=3) == "message to General may not have been sent: timed out (tried 3 times)"
    assert all("5af43491" not in text and "attempt(s)" not in text
               for text in (failed(), failed(definite=False), failed(attempts=0)))


def refused(code: grpc.StatusCode, details: str, stored: str | None = None) -> grpc.aio.AioRpcError:
    trailer = grpc.aio.Metadata(*([(STORED_KEY, stored)] if stored else []))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailer, details)


def test_a_failed_attempt_surely_did_nothing_only_if_never_sent_refused_or_the_server_says_so() -> None:
    assert surely_not_stored(NotSent(grpc.StatusCode.CANCELLED, "the client is closed"))
    assert surely_not_stored(LinkDown("no link to the gate for 10s"))
    assert surely_not_stored(refused(grpc.StatusCode.NOT_FOUND, "no chat room 'X'"))
    assert surely_not_stored(refused(grpc.StatusCode.UNAVAILABLE, "store down", stored="no"))
    assert stored_verdict(refused(grpc.StatusCode.UNAVAILABLE, "store down", stored="unknown")) == "unknown"
    assert not surely_not_stored(refused(grpc.StatusCode.UNAVAILABLE, "store down", stored="unknown"))
    assert not surely_not_stored(refused(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"))
    assert not surely_not_stored(ProtocolError("SendMessage answered 'x'"))


def test_a_send_is_definite_only_when_every_attempt_was_and_counts_what_went_on_the_wire() -> None:
    lost_reply = refused(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    link_down = LinkDown("no link to the gate 127.0.0.1:1 for 10s (reconnecting)")
    maybe = SendFailed.after(link_down, [lost_reply, link_down], room="General", client_msg_id="c0ffee", waited=10.04)
    assert (maybe.definite, maybe.attempts, maybe.code()) == (False, 1, grpc.StatusCode.UNAVAILABLE)
    assert maybe.details() == "message to General may not have been sent: no connection to the server for 10s"
    never = SendFailed.after(link_down, [link_down], room="General", client_msg_id="c0ffee", waited=2.5)
    assert (never.definite, never.attempts) == (True, 0)
    assert never.details() == "message to General not sent: no connection to the server for 2.5s"
    full = refused(grpc.StatusCode.UNAVAILABLE, "the store is full", stored="no")
    no_room = SendFailed.after(full, [full], room="General", client_msg_id="c0ffee", waited=0.1)
    assert no_room.definite and no_room.details() == "message to General not sent: the store is full"


def test_cause_says_a_failure_in_a_few_words_and_describe_keeps_the_details() -> None:
    down = refused(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: "
                                                "ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused")
    assert cause(down) == "connection refused"
    assert describe(down).startswith("UNAVAILABLE: failed to connect to all addresses")
    assert cause(refused(grpc.StatusCode.DEADLINE_EXCEEDED, "")) == "timed out"
    assert cause(refused(grpc.StatusCode.UNAVAILABLE, "")) == "server unavailable"
    assert cause(refused(grpc.StatusCode.NOT_FOUND, "no chat room 'X'")) == "not found"
    assert cause(TimeoutError()) == "timed out" and cause(None) == "closed by the server"
    assert cause(ProtocolError("Join answered 'x'")) == "unexpected answer from the server"
    assert describe(None) == "closed by the gate"
