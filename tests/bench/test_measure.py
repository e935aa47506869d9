"""The one percentile every bench reports (nearest-rank), and the /proc readers they share."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from tests.bench.measure import cpu_seconds, family, median, percentile, rss_kib


def test_percentiles_are_nearest_rank_values_that_were_observed() -> None:
    hundred = list(range(100, 0, -1))  # 1..100, in any order
    assert percentile(hundred, 99) == 99 and percentile(hundred, 100) == 100 and percentile(hundred, 1) == 1
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert median([1, 2, 3, 4]) == 2  # the lower middle value, never a mean nobody measured
    assert percentile([5.0], 99) == 5.0 and math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 0)


def test_cpu_and_memory_of_a_process_and_its_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert child.pid in family(os.getpid())
        assert cpu_seconds([os.getpid()]) > 0 and rss_kib(os.getpid()) > 1000
    finally:
        child.communicate(b"")
    assert cpu_seconds([os.getpid()], reaped_children=True) >= cpu_seconds([os.getpid()])
