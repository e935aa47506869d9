"""The whole server: a config file populates it at start."""

from __future__ import annotations

import json

from chaos.infra.links import Links
from tests.chaos.toxiproxy.sockets import connect, round_trip, wait_for


def test_config_file_populates_at_start(tmp_path, echo_server) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "from-file", "upstream": echo_server.addr, "listen": "127.0.0.1:0"}]))
    with Links.embedded(log_file=tmp_path / "c.log", args=["--config", str(config)]) as links:
        link = links.get("from-file")
        with connect(link.listen) as sock:
            round_trip(sock)
    wait_for(lambda: '"config_loaded"' in (tmp_path / "c.log").read_text(), what="config log line")
