"""The client's connection to its gate: the channel calls go through, and the Register stream of pushes.

A broken stream is noticed at once, a silent one by keepalive (ping
timeout, about 2 s). The connection then reconnects on its own with capped,
fully jittered backoff (:func:`system.session.keep_open`; the attempt count
starts over once a stream has stayed up ``healthy_after`` seconds):
a fresh channel, a new Register stream (a new client id), then the
``recover`` step it was given (re-join every room, and poll it if need be) while pushes
are read already. A gate that refuses the client for good (UNAUTHENTICATED:
no token, a bad or an expired one; PERMISSION_DENIED) ends the reconnecting:
the client says so (``refused``, :meth:`Observer.on_refused`) and calls fail
at once instead of waiting for a link that will not come back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import grpc
from google.protobuf import any_pb2
from tenacity import RetryCallState

from system import auth, log, tls
from system.client.failures import ProtocolError, describe
from system.client.observer import Observers
from system.grpcopts import Keepalive
from system.pb import gate_pb2, gate_pb2_grpc
from system.session import GiveUp, StreamLost, keep_open

_log = log.get("client")

OnPayload = Callable[[any_pb2.Any], None]
Recover = Callable[[], Coroutine[Any, Any, int]]
Token = str | Callable[[], str] | None
# How many call timeouts a Register waits for its client id. A gate that 1,000 clients re-register with at
# once answers late; given up at 5 s, the streams it had accepted were dropped and made again (2,827 registered,
# 1,992 dropped on one restarted gate in 40 s, 38 of 2,000 members back), so the storm fed itself.
REGISTER_PATIENCE = 3
# A Register stream refused with these will be refused again: stop reconnecting.
FINAL = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


class GateConnection:
    """One user's channel and push stream to one gate; ``connect()`` starts the stream and keeps it up."""

    def __init__(self, server: str, user: str, observers: Observers, *, keepalive: Keepalive, call_timeout: float,
                 reconnect: bool, backoff_min: float, backoff_max: float, healthy_after: float,
                 push_window: int, token: Token = None, tls: tls.ClientTls | None = None) -> None:
        self.server = server
        self.token = token
        self.tls = tls
        self.session = secrets.token_urlsafe(18)  # tells the gate our reconnections are us (auth.SESSION_HEADER)
        self.refused: grpc.aio.AioRpcError | None = None  # the gate refused us for good
        self.user = user
        self.observers = observers
        self.keepalive = keepalive
        self.call_timeout = call_timeout
        self.reconnect = reconnect
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.healthy_after = healthy_after
        self.push_window = push_window
        self.client_id = ""
        self.reconnects = 0           # successful reconnections so far
        self.up = asyncio.Event()     # a Register stream is up: calls need not wait
        self.reading = asyncio.Event()  # clear: no pushes are taken off the stream
        self.reading.set()
        self.closing = False
        self._channel: grpc.aio.Channel | None = None
        self._stub: gate_pb2_grpc.GateServiceStub | None = None
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._down_since = 0.0        # when the outage the next reconnection ends began

    @property
    def supervised(self) -> bool:
        """``connect()`` was called: the connection comes back by itself after a loss."""
        return self._supervisor is not None

    @property
    def connected(self) -> bool:
        """The push stream is up (False before connect(), while reconnecting and after close())."""
        return self.up.is_set() and not self.closing and self.refused is None

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Headers of every call and Register: our session, and our token if we have one."""
        out = [(auth.SESSION_HEADER, self.session)]
        token = self.token() if callable(self.token) else self.token
        if token:
            out.append((auth.AUTH_HEADER, f"Bearer {token}"))
        return tuple(out)

    async def connect(self, on_payload: OnPayload, recover: Recover) -> str:
        """Register (one attempt: a wrong address fails at once), then keep the stream up on our own.

        Every pushed item goes to ``on_payload``; after each re-register, ``recover()`` catches up and
        returns how many messages it showed.
        """
        if self._supervisor is not None:
            raise RuntimeError("connect() was already called")
        call = await self._register()
        self._supervisor = asyncio.create_task(self._supervise(call, on_payload, recover), name=f"link {self.user}")
        return self.client_id

    async def close(self, tasks: Iterable[asyncio.Task[None] | None] = ()) -> None:
        """Cancel the supervisor, the stream and ``tasks`` at once, and close the channel; never waits on the network."""
        self.closing = True
        self.up.set()  # wake calls waiting for the link: they give up
        cancelled = [t for t in (self._supervisor, *tasks) if t is not None]
        for task in cancelled:
            task.cancel()
        if self._call is not None:
            self._call.cancel()
        await asyncio.gather(*cancelled, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()
            self._channel, self._stub = None, None

    def stub(self) -> gate_pb2_grpc.GateServiceStub:
        """The gate stub; its channel opens on first use, so a poll-only client needs no connect()."""
        if self._stub is None:
            self._channel = tls.channel(self.server, self.tls, self._channel_options())
            self._stub = gate_pb2_grpc.GateServiceStub(self._channel)
        return self._stub

    def _channel_options(self) -> list[tuple[str, int]]:
        # No BDP probing: the push stream's window stays at push_window, so a stalled reader
        # pushes back on the gate soon. Unary replies are not slowed: gRPC opens the window to
        # fit a message that is being read.
        # A channel of our own subchannels: a reconnect dials afresh instead of inheriting the
        # backoff of a shared subchannel that failed during the outage.
        return self.keepalive.channel_options() + [("grpc.http2.bdp_probe", 0),
                                                   ("grpc.http2.lookahead_bytes", self.push_window),
                                                   ("grpc.use_local_subchannel_pool", 1)]

    async def _register(self) -> grpc.aio.UnaryStreamCall:
        """A fresh channel and Register stream; calls still on the old channel retry on the new one."""
        old, self._channel, self._stub = self._channel, None, None
        if old is not None:
            await old.close()
        call = self.stub().Register(gate_pb2.Empty(), metadata=self.metadata())
        try:
            async with asyncio.timeout(self.call_timeout * REGISTER_PATIENCE):
                first = await call.read()
            if first is grpc.aio.EOF:
                raise ProtocolError("gate closed the Register stream before sending a client id")
            registered = gate_pb2.RegisterResponse()
            if not first.Unpack(registered) or not registered.client_id:
                raise ProtocolError(f"first item on the Register stream is {first.type_url!r}, not a RegisterResponse")
        except grpc.aio.AioRpcError as exc:
            call.cancel()
            if exc.code() in FINAL:
                self._refused(exc)
            raise
        except BaseException:
            call.cancel()
            raise
        self._call, self.client_id = call, registered.client_id
        self.up.set()
        return call

    async def _supervise(self, call: grpc.aio.UnaryStreamCall, on_payload: OnPayload,
                         recover: Recover) -> None:
        """Read the first stream; after every loss, reconnect until close()."""
        up = time.monotonic()
        self._stream_lost(await self._pump(call, on_payload), up)
        await keep_open(lambda attempt: self._session(attempt, on_payload, recover), backoff_min=self.backoff_min,
                        backoff_max=self.backoff_max,
                        running=lambda: self.reconnect and not self.closing and self.refused is None,
                        before_sleep=self._before_sleep)

    def _refused(self, error: grpc.aio.AioRpcError) -> None:
        """The gate will not have us (no token, a bad or an expired one): say so once, stop trying."""
        if self.refused is not None:
            return
        self.refused = error
        self.client_id = ""
        log.event(_log, logging.WARNING, "refused", user=self.user, code=error.code().name, error=error.details())
        self.up.set()  # wake calls waiting for the link: it will not come back
        if not self.closing:
            self.observers.on_refused(error)

    def _stream_lost(self, error: BaseException | None, up: float) -> StreamLost:
        """A stream that was up has ended: no link until the next one; say so."""
        up_for = time.monotonic() - up
        self.up.clear()
        log.event(_log, logging.WARNING, "stream_lost", user=self.user, client_id=self.client_id,
                  error=describe(error), up_for=round(up_for, 3))
        self.client_id = ""  # that stream's id is void at the gate now: calls carry none until the next one
        if not self.closing:
            self.observers.on_stream_end(error)
        lost = StreamLost(describe(error), up_for >= self.healthy_after, error)
        if lost.healthy or not self._down_since:  # a new outage (a short-lived stream was part of the last one)
            self._down_since = lost.at
        return lost

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        error = exc.error if isinstance(exc, StreamLost) else exc
        attempt, wait = state.attempt_number + 1, state.upcoming_sleep
        log.event(_log, logging.WARNING, "reconnect_wait", user=self.user, attempt=attempt,
                  wait=round(wait, 3), error=describe(error))
        self.observers.on_reconnecting(attempt, error, wait)

    async def _session(self, attempt: int, on_payload: OnPayload,
                       recover: Recover) -> None:
        """Re-register, recover while reading pushes, then read until the stream ends; always raises."""
        try:
            call = await self._register()
        except grpc.aio.AioRpcError as exc:
            if self.refused is not None:
                raise GiveUp(describe(exc)) from exc
            raise
        up = time.monotonic()
        reader = asyncio.create_task(self._pump(call, on_payload), name=f"pushes {self.user}")
        recovery = asyncio.create_task(recover(), name=f"recovery {self.user}")
        try:
            await asyncio.wait({reader, recovery}, return_when=asyncio.FIRST_COMPLETED)
            if recovery.done() and recovery.exception() is None:
                recovered = recovery.result()
                self.reconnects += 1
                log.event(_log, logging.INFO, "reconnected", user=self.user, client_id=self.client_id,
                          attempt=attempt, recovered=recovered, took=round(time.monotonic() - self._down_since, 3))
                self.observers.on_reconnected(self.client_id, recovered)
                error = await reader
            elif recovery.done():  # a bug, not the network: start over on a new stream
                error = recovery.exception()
                _log.error("recovery failed", exc_info=error)
            else:
                error = reader.result()
        finally:
            call.cancel()
            for task in (reader, recovery):
                task.cancel()
            await asyncio.gather(reader, recovery, return_exceptions=True)
        raise self._stream_lost(error, up)

    async def _pump(self, call: grpc.aio.UnaryStreamCall,
                    on_payload: OnPayload) -> BaseException | None:
        """Read pushes until the stream ends; return why (None: the gate ended it)."""
        try:
            while True:
                await self.reading.wait()
                item = await call.read()
                if item is grpc.aio.EOF:
                    return None
                await self.reading.wait()  # a read already waiting when reading stopped: keep it till then
                on_payload(item)
        except grpc.aio.AioRpcError as exc:
            return exc
