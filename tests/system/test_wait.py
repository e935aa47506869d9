"""The one wait-with-deadline loop: what it returns, how it times out, and that system/ has no other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from system.wait import wait_until

SYSTEM = Path(__file__).resolve().parents[2] / "system"


async def test_it_returns_the_first_truthy_value_and_awaits_a_predicate_that_is_a_coroutine() -> None:
    polls: list[int] = []

    def count() -> int:
        polls.append(1)
        return len(polls) if len(polls) >= 3 else 0

    async def ready() -> str:
        return "ready" if len(polls) >= 5 else ""

    assert await wait_until(count, 5.0, "three polls", interval=0.001) == 3
    assert await wait_until(lambda: (polls.append(1), ready())[1], 5.0, "five polls", interval=0.001) == "ready"


async def test_after_the_deadline_it_names_what_it_waited_for_or_returns_the_last_value() -> None:
    with pytest.raises(TimeoutError, match=r"^timed out after 0.05s waiting for the moon$"):
        await wait_until(lambda: False, 0.05, "the moon")
    assert await wait_until(lambda: [], 0.05, "an item", fail=False) == []


async def test_a_description_given_as_a_function_tells_the_state_at_the_deadline_not_at_the_start() -> None:
    state = ["starting"]

    def poll() -> bool:
        state[0] = "stuck half way"
        return False

    with pytest.raises(TimeoutError, match=r"waiting for the door \(it was stuck half way\)$"):
        await wait_until(poll, 0.05, lambda: f"the door (it was {state[0]})")


def _hand_rolled_waits(path: Path) -> list[int]:
    """Lines of ``while`` loops that sleep and compare the monotonic clock with something: a deadline of their own."""
    found = []
    for loop in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(loop, ast.While):
            continue
        calls = [n.func for n in ast.walk(loop) if isinstance(n, ast.Call)]
        sleeps = any(getattr(f, "attr", getattr(f, "id", "")) == "sleep" for f in calls)
        clock_compared = any(isinstance(n, ast.Compare) and any(
            isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "monotonic" for c in ast.walk(n))
            for n in ast.walk(loop))
        if sleeps and clock_compared:
            found.append(loop.lineno)
    return found


def test_the_system_waits_for_conditions_through_the_one_loop_only() -> None:
    loops = {str(p.relative_to(SYSTEM.parent)): lines for p in sorted(SYSTEM.rglob("*.py"))
             if p.name != "wait.py" and (lines := _hand_rolled_waits(p))}
    assert loops == {}
    assert _hand_rolled_waits(SYSTEM / "wait.py"), "the detector no longer sees the loop it is meant to find"


def test_deadlines_on_an_await_use_asyncio_timeout_which_never_loses_a_cancellation() -> None:
    """Python 3.11's ``asyncio.wait_for`` returns the result when the awaited thing finishes in the same
    moment its task is cancelled: the cancellation is lost and the task runs on (``pushchat client`` once
    hung on SIGTERM that way). ``async with asyncio.timeout(…)`` keeps it."""
    uses = {str(p.relative_to(SYSTEM.parent)): n for root in (SYSTEM, SYSTEM.parent / "chaos")
            for p in sorted(root.rglob("*.py")) if (n := p.read_text(encoding="utf-8").count("asyncio.wait_for("))}
    assert uses == {}
