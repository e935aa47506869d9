"""The proxy bench, end to end: many proxied connections through our server, and ours against a server at
$TOXIPROXY_URL (here our own, standing in for a real toxiproxy-server)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.infra.links import Links


@pytest.fixture
def fresh_links(tmp_path: Path) -> Iterator[Links]:
    """A server of its own, as a user's toxiproxy-server at $TOXIPROXY_URL would be."""
    with Links.embedded(log_file=tmp_path / "server.log") as links:
        yield links


def test_many_connections_through_our_server_are_each_echoed_and_reported() -> None:
    out = subprocess.run([sys.executable, "-m", "tests.bench.toxiproxy", "--connections", "50", "--round-trips",
                          "200"], capture_output=True, text=True, timeout=120, check=True).stdout
    rows = {line[:34].strip(): line[34:].strip() for line in out.splitlines() if not line.startswith("#")}
    assert rows["open connections"] == "50"
    assert float(rows["connections per s, through ours"]) > 0 and float(rows["RSS per connection (KiB)"]) >= 0
    assert "added rtt p50, 51 open (us)" in rows


def test_bench_against_a_server_at_toxiproxy_url_reports_ratios_and_leaves_its_proxies_alone(
        fresh_links: Links) -> None:
    stale = fresh_links.create("bench", "127.0.0.1:9")  # as a run killed half way through leaves it
    env = {**os.environ, "TOXIPROXY_URL": fresh_links.url}
    out = subprocess.run([sys.executable, "-m", "tests.bench.toxiproxy", "--repeat", "1", "--round-trips", "200",
                          "--bulk-mb", "4"], capture_output=True, text=True, timeout=120, check=True, env=env).stdout
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("against real toxiproxy"))
    table = {line[:28].strip(): line[28:].split() for line in lines[:at] if not line.startswith(("#", "-"))}
    real = lines[at].split(":")[0].removeprefix("against ")
    ratios = {}
    for line in lines[at + 1:]:
        match = re.fullmatch(r"(ours, \w+)\s+added rtt\s+(-?\d+\.\d\dx|n/a \(real adds none\))\s+bulk (\d+\.\d\d)x", line)
        assert match, line
        ratios[match[1]] = float(match[3])
    assert set(ratios) == {"ours, uvloop", "ours, asyncio"}
    for ours, ratio in ratios.items():  # the bulk ratio is the table's two rates divided
        expected = float(table[ours][2]) / float(table[real][2])
        assert abs(ratio - expected) <= 0.01 + 0.02 * expected
    assert list(fresh_links.proxies()) == [stale.name]
