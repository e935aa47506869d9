"""The proxy bench's concurrency mode: many proxied connections through our server, measured end to end."""

from __future__ import annotations

import subprocess
import sys


def test_many_connections_through_our_server_are_each_echoed_and_reported() -> None:
    out = subprocess.run([sys.executable, "-m", "chaos.toxiproxy.bench", "--connections", "50", "--round-trips",
                          "200"], capture_output=True, text=True, timeout=120, check=True).stdout
    rows = {line[:34].strip(): line[34:].strip() for line in out.splitlines() if not line.startswith("#")}
    assert rows["open connections"] == "50"
    assert float(rows["connections per s, through ours"]) > 0 and float(rows["RSS per connection (KiB)"]) >= 0
    assert "added rtt p50, 51 open (us)" in rows
