"""The chat client library: a gate ``Register`` stream for pushes, calls for the rest.

:class:`ChatClient` is the whole public face (``connect``, ``join``,
``send``, ``poll``, ``leave``, ``close``); it rides through faults on its
own. Each job is a module of this package:

- ``chat_client``: :class:`ChatClient`, wiring the parts below;
- ``connection``: the channel and the Register stream, noticed broken and reconnected with backoff;
- ``calls``: one call through the gate, waiting through outages and retried;
- ``failures``: what a failed call means (:class:`SendFailed`, ``definite``) and why (:func:`cause`);
- ``catchup``: what is shown of each room, in seq order, once; gaps, silent rooms, a new history;
- ``roomview``: what the client knows of one room (sans-I/O);
- ``observer``: the hooks through which the user hears of it all (:class:`Observer`);
- ``results``: what the calls return.
"""

from system.client.chat_client import ChatClient
from system.client.failures import (DEFINITE, RETRYABLE, LinkDown, NotSent, ProtocolError, SendFailed, cause,
                                    describe, stored_verdict, surely_not_stored)
from system.client.observer import HOOKS, Observer
from system.client.results import JoinResult, PollResult, SendResult

__all__ = ["DEFINITE", "HOOKS", "RETRYABLE", "ChatClient", "JoinResult", "LinkDown", "NotSent", "Observer",
           "PollResult", "ProtocolError", "SendFailed", "SendResult", "cause", "describe", "stored_verdict",
           "surely_not_stored"]
