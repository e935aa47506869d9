"""``/metrics`` (``--metrics``): the real server's proxy byte counters."""

from __future__ import annotations

from chaos.infra.links import Links
from tests.chaos.toxiproxy.sockets import connect, round_trip


def test_metrics_only_when_enabled(api, tmp_path, echo_server) -> None:
    assert api("GET", "/metrics").status_code == 404
    with Links.embedded(log_file=tmp_path / "m.log", args=["--metrics"]) as links:
        link = links.create("m", echo_server.addr)
        with connect(link.listen) as sock:
            round_trip(sock, b"12345")
        resp = links.request("GET", "/metrics", "metrics")
        assert resp.headers["Content-Type"].startswith("text/plain")
        # The real server's /metrics route names no method: any method gets the metrics.
        posted = links.request("POST", "/metrics", "metrics")
        assert posted.status_code == 200 and "toxiproxy_proxy_received_bytes_total" in posted.text
        lines = resp.text.splitlines()
        for metric in ("toxiproxy_proxy_received_bytes_total", "toxiproxy_proxy_sent_bytes_total"):
            row = next(line for line in lines if line.startswith(metric) and 'direction="upstream"' in line)
            assert 'proxy="m"' in row and float(row.rsplit(" ", 1)[1]) == 5
