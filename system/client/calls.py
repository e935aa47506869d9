"""One call to an object through the gate, retried through outages.

A call waits for the link while the connection reconnects (up to its
budget) and retries on the codes of :data:`RETRYABLE` with capped, fully
jittered backoff. Every call is idempotent, a send thanks to its client
message id, so a retried send is stored once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from tenacity import AsyncRetrying, retry_if_exception, stop_before_delay, stop_never, wait_random_exponential

from system import log
from system.client.connection import GateConnection
from system.client.failures import RETRYABLE, LinkDown, NotSent, ProtocolError, describe
from system.pb import gate_pb2

CALL_BACKOFF_MIN = 0.05
# Call timeouts each attempt of a call retried until it succeeds (``budget`` None: a reconnection's re-join and
# poll) may take. Such a caller waits anyway; an attempt given up at one call timeout left its work queued on a
# server too busy to answer in time, and the retry queued it again: after the gates of a room of 2,000 died,
# each member's re-join timed out at 5 s a dozen times in a row while the node did every abandoned one.
PATIENT_TIMEOUTS = 3

_log = log.get("client")


class Calls:
    """Calls on ``connection``'s channel, each with the client id of the moment it is made."""

    def __init__(self, connection: GateConnection, *, outage_wait: float) -> None:
        self.connection = connection
        self.outage_wait = outage_wait

    async def call(self, type_: str, object_id: str, method: str, request: Callable[[], Message],
                   reply_types: tuple[type[Message], ...], budget: float | None,
                   failures: list[BaseException] | None = None) -> Message:
        """Call, retrying transient failures with new attempts until ``budget`` s have passed (None: forever,
        each attempt waiting ``PATIENT_TIMEOUTS`` call timeouts).

        The request is built anew for each attempt, so it carries the current client id;
        each failed attempt is added to ``failures``.
        """
        conn = self.connection
        deadline = None if budget is None else time.monotonic() + budget
        timeout = conn.call_timeout * (PATIENT_TIMEOUTS if budget is None else 1)
        failures = [] if failures is None else failures
        retrying = AsyncRetrying(
            stop=stop_never if budget is None else stop_before_delay(budget),
            wait=wait_random_exponential(multiplier=CALL_BACKOFF_MIN, max=conn.backoff_max),
            retry=retry_if_exception(self._transient), reraise=True,
            before_sleep=lambda state: log.event(
                _log, logging.INFO, "call_retry", user=conn.user, method=method, attempt=state.attempt_number,
                wait=round(state.upcoming_sleep, 3),
                error=describe(state.outcome.exception() if state.outcome else None)))
        async for attempt in retrying:
            with attempt:
                try:
                    await self._wait_link(deadline)
                    return await self._invoke(type_, object_id, method, request(), reply_types, timeout)
                except (grpc.aio.AioRpcError, ProtocolError) as exc:
                    failures.append(exc)
                    raise
        raise AssertionError("unreachable: tenacity returns or raises")

    def _transient(self, exc: BaseException) -> bool:
        return (isinstance(exc, grpc.aio.AioRpcError) and not isinstance(exc, NotSent)
                and exc.code() in RETRYABLE and not self.connection.closing)

    async def _wait_link(self, deadline: float | None) -> None:
        """While reconnecting, wait (until ``deadline``) for the new stream instead of failing at once."""
        conn = self.connection
        if conn.supervised and conn.reconnect and not conn.up.is_set():
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                async with asyncio.timeout(timeout):
                    await conn.up.wait()
            except asyncio.TimeoutError:
                raise LinkDown(f"no link to the gate {conn.server} for {self.outage_wait:g}s (reconnecting)") from None
        if conn.closing:
            raise NotSent(grpc.StatusCode.CANCELLED, "the client is closed")
        if conn.refused is not None:
            raise NotSent(conn.refused.code(), f"the server refused this client: {conn.refused.details()}")

    async def _invoke(self, type_: str, object_id: str, method: str, request: Message,
                      reply_types: tuple[type[Message], ...], timeout: float) -> Message:
        conn = self.connection
        packed = any_pb2.Any()
        packed.Pack(request)
        try:
            reply = await conn.stub().CallObject(
                gate_pb2.CallObjectRequest(client_id=conn.client_id, type=type_, id=object_id, method=method,
                                           request=packed),
                timeout=timeout, metadata=conn.metadata())
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # Not us being cancelled: the channel closed under the call (a reconnect replaced it, or close()).
            raise grpc.aio.AioRpcError(grpc.StatusCode.CANCELLED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                       "the client is closed" if conn.closing else "channel replaced by a reconnect")
        for reply_type in reply_types:
            message = reply_type()
            if reply.response.Unpack(message):
                return message
        raise ProtocolError(f"{method} answered {reply.response.type_url!r}")
