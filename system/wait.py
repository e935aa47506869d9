"""Wait for a condition with a deadline: the one polling loop of the system, the harness and their tests."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Callable


async def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str | Callable[[], str] = "condition",
                     *, interval: float = 0.01, fail: bool = True) -> Any:
    """Poll ``predicate`` until it is truthy and return its value (a coroutine it returns is awaited).

    After ``timeout`` seconds: raise ``TimeoutError`` naming ``what``, or, with
    ``fail=False`` (the caller goes on either way), return the last falsy value.
    ``what`` may be a function, called only on failure, so that the message
    shows the state the wait gave up on rather than the state it started from.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value or time.monotonic() > deadline:
            break
        await asyncio.sleep(interval)
    if not value and fail:
        raise TimeoutError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
    return value
