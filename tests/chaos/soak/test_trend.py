"""The soak's judgement on its own: trends fitted and judged on made-up series, durations, the repeated schedule."""

from __future__ import annotations

import os
import random
import socket
import time

import pytest

from chaos.infra.resources import gauges, sample_process
from chaos.soak.samples import Sample
from chaos.scenario.files import find
from chaos.soak.runner import parse_duration, repeated_schedule, sends_per_interval
from chaos.reports.soak import table
from chaos.soak.trend import MiB, fit, fit_all, theil_sen

MINUTE = 60.0


def series(process: str, resource: str, values: list[float], every: float = MINUTE, incarnation: int = 1,
           start: float = 0.0, sends_per_sample: int = 0) -> list[Sample]:
    return [Sample(start + i * every, process, incarnation, 100 + incarnation, i * sends_per_sample, {resource: v})
            for i, v in enumerate(values)]


def test_the_slope_ignores_a_spike() -> None:
    points = [(float(x), 10.0) for x in range(20)]
    points[7] = (7.0, 500.0)  # a reconnect storm in one sample
    assert theil_sen(points) == 0.0
    assert theil_sen([(0.0, 0.0), (1.0, 2.0), (2.0, 4.0)]) == pytest.approx(2.0)


def test_an_hour_of_noisy_but_flat_memory_and_sessions_passes() -> None:
    rng = random.Random(7)
    rss = [200 * MiB + rng.uniform(-6, 6) * MiB for _ in range(60)]
    sessions = [float(rng.choice([248, 250, 250, 250, 12])) for _ in range(60)]  # a gate killed now and then
    samples = series("gate0", "rss_bytes", rss) + series("gate0", "sessions", sessions)
    trends = fit_all(samples, warmup=5 * MINUTE)
    assert [(t.resource, t.verdict) for t in trends] == [("rss_bytes", "ok"), ("sessions", "ok")]


def test_growth_beyond_the_allowance_names_the_process_and_the_resource() -> None:
    leak = [100 * MiB + i * 0.5 * MiB for i in range(60)]          # 30 MiB/h on 100 MiB: 30 %/h
    kept = [4.0 + i for i in range(60)]                             # a session more every minute
    samples = series("gate1", "rss_bytes", leak) + series("gate1", "sessions", kept) + \
        series("gate0", "rss_bytes", [100 * MiB] * 60)
    trends = fit_all(samples, warmup=5 * MINUTE)
    assert {(t.process, t.resource) for t in trends if t.grows} == {("gate1", "rss_bytes"), ("gate1", "sessions")}
    text = table(trends)
    assert "gate1    rss_bytes" in text and "GROWS" in text and "+30.0 MiB" in text


def test_slow_growth_within_the_allowance_or_under_the_noise_floor_passes() -> None:
    slow = [100 * MiB + i * (3 * MiB / 60) for i in range(60)]     # 3 %/h: within 5 %/h
    assert fit("node0", "rss_bytes", series("node0", "rss_bytes", slow), warmup=0).verdict == "ok"
    short = [100 * MiB + i * 0.5 * MiB for i in range(8)]           # fast, but 3.5 MiB in all: noise
    assert fit("node0", "rss_bytes", series("node0", "rss_bytes", short), warmup=0).verdict == "ok"


def test_the_warmup_is_not_judged() -> None:
    values = [10.0 * MiB * i for i in range(12)] + [120 * MiB] * 12  # climbs while warming up, then flat
    assert fit("node0", "rss_bytes", series("node0", "rss_bytes", values), warmup=12 * MINUTE).verdict == "ok"
    assert fit("node0", "rss_bytes", series("node0", "rss_bytes", values), warmup=0).verdict == "GROWS"


def test_a_restart_starts_over_and_the_longest_life_is_judged() -> None:
    first = series("gate1", "rss_bytes", [100 * MiB + i * MiB for i in range(10)])     # short life, climbing
    second = series("gate1", "rss_bytes", [60 * MiB] * 40, incarnation=2, start=10 * MINUTE)
    trend = fit("gate1", "rss_bytes", first + second, warmup=0)
    assert (trend.incarnation, trend.incarnations, trend.verdict) == (2, 2, "ok")


def test_a_store_may_grow_with_what_it_keeps_but_not_faster() -> None:
    kept = series("node0", "store_bytes", [i * 600 * 1024.0 for i in range(60)], sends_per_sample=600)  # 1 KiB/send
    assert fit("node0", "store_bytes", kept, warmup=0).verdict == "ok"
    bloated = series("node0", "store_bytes", [i * 600 * 8192.0 for i in range(60)], sends_per_sample=600)
    assert fit("node0", "store_bytes", bloated, warmup=0).verdict == "GROWS"


def test_too_few_samples_are_said_so() -> None:
    trend = fit("node0", "fds", series("node0", "fds", [10.0, 50.0, 90.0]), warmup=0)
    assert trend.verdict == "too few samples" and not trend.grows


def test_gauges_are_read_for_their_kind_of_process_only() -> None:
    scraped = {"pushchat_asyncio_tasks": 12.0, "pushchat_gate_sessions": 4.0, "pushchat_rooms_hosted": 2.0}
    assert gauges("gate", scraped) == {"tasks": 12.0, "sessions": 4.0}
    assert gauges("node", scraped) == {"tasks": 12.0, "rooms": 2.0}
    assert gauges("gate", None) == {}


def test_a_helper_process_is_sampled_with_the_sockets_it_holds_in_close_wait() -> None:
    """The embedded Toxiproxy once held thousands of sockets its peers had closed: a soak now samples them."""
    def held() -> float:
        sample = sample_process("toxiproxy", os.getpid(), 1.0, 0)
        assert sample is not None and sample.process == "toxiproxy" and sample.values["fds"] >= 1
        return sample.values["close_wait"]

    before = held()
    with socket.create_server(("127.0.0.1", 0)) as server:
        peer = socket.create_connection(server.getsockname())
        ours, _ = server.accept()
        peer.close()  # its FIN: ours is in CLOSE-WAIT until we close it
        deadline = time.monotonic() + 5
        while held() < before + 1:
            assert time.monotonic() < deadline, "the closed peer's socket never showed in CLOSE-WAIT"
            time.sleep(0.01)
        ours.close()
    assert held() <= before


@pytest.mark.parametrize("text, seconds", [("1h", 3600), ("2m", 120), ("90s", 90), ("1h30m", 5400), ("45", 45),
                                           ("2.5", 2.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "h", "0s", "1h30"])
def test_bad_durations_say_what_a_duration_is(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_the_schedule_repeats_every_cycle_and_random_faults_are_drawn_again() -> None:
    listed = find("client-stream-drop")   # 6 s of workload + 3 s recovery: a cycle of 9 s, 2 faults each
    faults, period, cycles = repeated_schedule(listed, 1, 60.0)
    assert (period, cycles) == (9.0, 7)
    assert [f.start for f in faults[:4]] == [1.0, 2.5, 10.0, 11.5]
    assert len({f.id for f in faults}) == len(faults) and all(f.end <= 60.0 for f in faults)
    faults, period, cycles = repeated_schedule(listed, 1, 60.0, cycle=20.0)   # --cycle: more quiet between
    assert (period, cycles, [f.start for f in faults[:4]]) == (20.0, 3, [1.0, 2.5, 21.0, 22.5])
    with pytest.raises(ValueError, match="shorter than client-stream-drop's workload"):
        repeated_schedule(listed, 1, 60.0, cycle=5.0)
    drawn = find("seeded-random-chaos")
    faults, period, _ = repeated_schedule(drawn, 42, 2 * (drawn.workload.duration + drawn.recovery_wait))
    first = [(f.kind, str(f.target), f.start) for f in faults if f.start < period]
    second = [(f.kind, str(f.target), round(f.start - period, 6)) for f in faults if f.start >= period]
    assert first == [(f.kind, str(f.target), f.start) for f in drawn.schedule(42)] and second != first


def test_a_workload_that_stalled_is_told_by_the_acknowledged_sends_between_rounds() -> None:
    rounds = [Sample(t * MINUTE, p, 1, 1, acked, {"fds": 10.0}) for t, acked in enumerate([0, 50, 100, 100, 160])
              for p in ("node0", "gate0")]
    rounds.append(Sample(4 * MINUTE + 3, "node0", 1, 1, 160, {"fds": 10.0}))   # the last, just after the workload
    assert sends_per_interval(rounds, warmup=0, interval=MINUTE) == [50, 50, 0, 60]
    assert sends_per_interval(rounds, warmup=2 * MINUTE, interval=MINUTE) == [0, 60]


def test_a_soak_folder_is_judged_again_with_another_warmup(tmp_path) -> None:
    """Rooms filling to their history limit for 25 minutes, then level: growth if judged from minute 5, none from 30."""
    from chaos.soak import samples
    from chaos.rundir import RunFolder
    from chaos.soak.runner import judge, judge_again

    folder = RunFolder(tmp_path)
    rss = [60 * MiB + min(i, 25) * 4 * MiB for i in range(61)]
    samples.write(folder.soak_samples, [Sample(i * MINUTE, "node0", 1, 7, i * 1200, {"rss_bytes": v})
                                          for i, v in enumerate(rss)])
    first = judge(folder, "filling", 3600.0, MINUTE, 5 * MINUTE, 90, ["as run"])
    assert [t.process + " " + t.resource for t in first.grows] == ["node0 rss_bytes"]
    again = judge_again(tmp_path)   # default: the second half
    assert again.passed and again.judged and again.notes[-1] == "judged again after 1800 s of warm-up"
    assert folder.soak_plot.stat().st_size > 0


def test_a_soak_whose_workload_stalled_is_not_judged_whatever_its_trends(tmp_path) -> None:
    """Streams gone and back during an outage are its shape, not a leak: the soak says it was not judged."""
    from chaos.rundir import RunFolder
    from chaos.soak.runner import judge, summary
    from chaos.soak import samples

    acked = [i * 1000 for i in range(20)] + [19_000] * 8 + [19_000 + i * 1000 for i in range(1, 13)]
    sessions = [250.0] * 20 + [0.0] * 8 + [250.0] * 12
    samples.write(RunFolder(tmp_path).soak_samples, [Sample(i * MINUTE, "gate0", 1, 7, n, {"sessions": s})
                                                       for i, (n, s) in enumerate(zip(acked, sessions))])
    result = judge(RunFolder(tmp_path), "outage", 2400.0, MINUTE, 20 * MINUTE, 20, [])
    assert result.stalled == 7 and not result.judged and not result.passed
    said = "\n".join(summary(result))
    assert "NOT JUDGED: the workload stalled: 7 sampling intervals" in said and "GROWS:" not in said
