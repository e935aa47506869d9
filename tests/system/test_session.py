"""Re-opening a stream after its session ends: backoff after a failed try, none after a healthy stream."""

from __future__ import annotations

from tenacity import RetryCallState

from system.session import StreamLost, keep_open


async def test_attempts_count_up_while_sessions_fail_and_start_over_after_a_healthy_one() -> None:
    outcomes = [StreamLost("refused", healthy=False), ConnectionError("no answer"), StreamLost("reset", healthy=False),
                StreamLost("up for a minute, then reset", healthy=True), StreamLost("refused", healthy=False),
                StreamLost("up again, then closed", healthy=True)]
    attempts: list[int] = []
    sleeps: list[tuple[int, str]] = []

    async def session(attempt: int) -> None:
        attempts.append(attempt)
        raise outcomes[len(attempts) - 1]

    def before_sleep(state: RetryCallState) -> None:
        assert state.outcome is not None and state.upcoming_sleep <= 0.002
        sleeps.append((state.attempt_number, str(state.outcome.exception())))

    await keep_open(session, backoff_min=0.001, backoff_max=0.002, before_sleep=before_sleep,
                    running=lambda: len(attempts) < len(outcomes))
    assert attempts == [1, 2, 3, 4, 1, 2]
    # no backoff after a healthy stream: the next one opens at once
    assert sleeps == [(1, "refused"), (2, "no answer"), (3, "reset"), (1, "refused")]


async def test_a_stream_lost_says_why_whether_it_was_healthy_and_what_ended_it() -> None:
    error = ConnectionResetError("reset by peer")
    lost = StreamLost("UNAVAILABLE: reset by peer", healthy=True, error=error)
    assert (str(lost), lost.reason, lost.healthy, lost.error) == ("UNAVAILABLE: reset by peer",
                                                                  "UNAVAILABLE: reset by peer", True, error)
