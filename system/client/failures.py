"""What a failed call means: whether it surely did nothing, and why, for a person.

A write that failed may still have been stored (its reply was lost), so a
failure is *definite* only when the request never went out, was refused, or
the server said it stored nothing (the ``stored`` trailer). ``describe``
keeps gRPC's details for the logs; ``cause`` says it in a few words.
"""

from __future__ import annotations

import grpc

from system.objects import STORED_KEY

# Worth another attempt: the request may not have reached the server, or its answer was lost.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                       grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN})
# Answers that mean the server refused the request: it surely did nothing.
DEFINITE = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS,
                      grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION,
                      grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNIMPLEMENTED,
                      grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED})


class ProtocolError(Exception):
    """The server answered something this client cannot read."""


class NotSent(grpc.aio.AioRpcError):
    """The call was never made (so it surely did nothing)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class LinkDown(NotSent):
    """The link to the gate stayed down for the whole wait."""

    def __init__(self, details: str) -> None:
        super().__init__(grpc.StatusCode.UNAVAILABLE, details)


class SendFailed(grpc.aio.AioRpcError):
    """A send failed for good. ``definite``: surely not stored; else it may have been (record it as unknown).

    ``details()`` is for the user: the room and why, never the internal message id;
    ``attempts`` counts the requests that went on the wire (0: the link was down all along).
    """

    def __init__(self, code: grpc.StatusCode, details: str, *, definite: bool, room: str, client_msg_id: str,
                 attempts: int) -> None:
        outcome = "not sent" if definite else "may not have been sent"
        tries = f" (tried {attempts} times)" if attempts > 1 else ""
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), f"message to {room} {outcome}: {details}{tries}")
        self.definite = definite
        self.room = room
        self.client_msg_id = client_msg_id
        self.attempts = attempts

    @classmethod
    def after(cls, last: BaseException, failures: list[BaseException], *, room: str, client_msg_id: str,
              waited: float) -> "SendFailed":
        """The verdict on a send whose attempts all failed (``failures``, ``last`` the final one)."""
        code = last.code() if isinstance(last, grpc.aio.AioRpcError) else grpc.StatusCode.UNKNOWN
        return cls(code, _why_not_sent(last, waited), definite=all(surely_not_stored(f) for f in failures),
                   room=room, client_msg_id=client_msg_id,
                   attempts=len([f for f in failures if not isinstance(f, NotSent)]))


def _why_not_sent(exc: BaseException, waited: float) -> str:
    """Why a send failed, for :class:`SendFailed`'s message: the server's refusal, or what the link did."""
    if isinstance(exc, LinkDown):
        return f"no connection to the server for {round(waited, 1):g}s"
    if isinstance(exc, grpc.aio.AioRpcError) and (exc.code() in DEFINITE or isinstance(exc, NotSent)
                                                  or stored_verdict(exc)):
        return exc.details() or cause(exc)  # the server's (or our own) words for the refusal
    return cause(exc)


def stored_verdict(error: BaseException) -> str | None:
    """What the server said of a failed write: "no" (surely not stored), "unknown", or None (it said nothing)."""
    if not isinstance(error, grpc.aio.AioRpcError) or isinstance(error, NotSent):
        return None
    return next((v for k, v in error.trailing_metadata() or () if k == STORED_KEY), None)


def surely_not_stored(error: BaseException) -> bool:
    """Did this failed attempt surely do nothing? Never sent, refused, or the server says it stored nothing."""
    if isinstance(error, NotSent):
        return True
    if not isinstance(error, grpc.aio.AioRpcError):
        return False
    return error.code() in DEFINITE or stored_verdict(error) == "no"


def describe(error: BaseException | None) -> str:
    """A failure with its details, for the logs."""
    if error is None:
        return "closed by the gate"
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return f"{type(error).__name__}: {error}"


# What gRPC and the OS say, and the few words a user needs; the first match wins.
_CAUSES = (("connection refused", "connection refused"), ("reset by peer", "connection reset"),
           ("connection reset", "connection reset"), ("keepalive watchdog", "no answer to keepalive pings"),
           ("ping timeout", "no answer to keepalive pings"), ("goaway", "the server closed the connection"),
           ("broken pipe", "connection closed"), ("socket closed", "connection closed"),
           ("end of tcp stream", "connection closed"), ("dns resolution failed", "address not found"),
           ("name or service not known", "address not found"), ("deadline exceeded", "timed out"),
           ("no route to host", "no route to host"), ("network is unreachable", "network unreachable"))


def cause(error: BaseException | None) -> str:
    """Why a call or stream failed, in a few words for a person (``describe`` keeps the details)."""
    if error is None:
        return "closed by the server"
    if isinstance(error, TimeoutError):  # asyncio.TimeoutError too
        return "timed out"
    text = describe(error).lower()
    for needle, words in _CAUSES:
        if needle in text:
            return words
    if isinstance(error, grpc.aio.AioRpcError):
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return "timed out"
        if error.code() == grpc.StatusCode.UNAVAILABLE:
            return "server unavailable"
        return error.code().name.lower().replace("_", " ")
    if isinstance(error, ProtocolError):
        return "unexpected answer from the server"
    return type(error).__name__
