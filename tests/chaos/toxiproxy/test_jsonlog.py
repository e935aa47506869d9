"""The server's logs: JSON lines with ``ts``, ``level``, ``component``, ``event`` first, stable event fields."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

from chaos.infra.links import Links
from chaos.toxiproxy.jsonlog import JsonLines
from tests.chaos.toxiproxy.sockets import connect, round_trip, wait_for


ISO_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d")  # ISO 8601, local with its offset


def read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_session_is_logged_with_the_documented_events_and_fields(tmp_path, echo_server) -> None:
    log_file = tmp_path / "server.log"
    with Links.embedded(log_file=log_file, args=["--log-level", "DEBUG"]) as links:
        link = links.create("logged", echo_server.addr)
        with connect(link.listen) as sock:
            round_trip(sock, b"1234")
            name = link.add_toxic("latency", attributes={"latency": 1})
            link.update_toxic(name, attributes={"latency": 2})
            link.remove_toxic(name)
        wait_for(lambda: '"connection_closed"' in log_file.read_text(), what="connection_closed")
        link.disable()
    lines = read(log_file)
    assert all(list(doc)[:4] == ["ts", "level", "component", "event"] for doc in lines), lines
    assert all(doc["component"] == "toxiproxy" and ISO_TS.fullmatch(doc["ts"]) for doc in lines)
    events = {}
    for doc in lines:
        events.setdefault(doc["event"], doc)
    assert events["api_started"]["addr"] == links.url.removeprefix("http://")
    assert {k: events["proxy_started"][k] for k in ("level", "proxy", "listen", "upstream")} == {
        "level": "INFO", "proxy": "logged", "listen": link.listen, "upstream": echo_server.addr}
    opened, closed = events["connection_opened"], events["connection_closed"]
    assert (opened["proxy"], opened["upstream"]) == ("logged", echo_server.addr)
    assert opened["client"].startswith("127.0.0.1:") and closed["client"] == opened["client"]
    assert (closed["upstream_bytes"], closed["downstream_bytes"]) == (4, 4)
    for event, latency in [("toxic_added", 1), ("toxic_updated", 2), ("toxic_removed", 2)]:
        doc = events[event]
        assert {k: doc[k] for k in ("level", "proxy", "toxic", "type", "stream", "toxicity", "attributes")} == {
            "level": "INFO", "proxy": "logged", "toxic": name, "type": "latency", "stream": "downstream",
            "toxicity": 1.0, "attributes": {"latency": latency, "jitter": 0}}, event
    assert (events["proxy_stopped"]["proxy"], events["proxy_stopped"]["listen"]) == ("logged", link.listen)
    request = events["api_request"]
    assert request["level"] == "DEBUG" and len(request["request_id"]) == 20
    assert {"method", "path", "status", "duration_ms"} <= set(request)
    assert lines[-1]["event"] == "shutting_down"


def test_a_field_named_like_a_fixed_key_does_not_overwrite_it() -> None:
    record = logging.LogRecord("chaos.toxiproxy", logging.WARNING, __file__, 1, "clash", None, None)
    record.fields = {"event": "mine", "level": 1, "proxy": "p"}
    doc = json.loads(JsonLines().format(record))
    assert doc == {"ts": doc["ts"], "level": "WARNING", "component": "toxiproxy", "event": "clash",
                   "field_event": "mine", "field_level": 1, "proxy": "p"}


def test_imported_as_a_library_it_prints_nothing() -> None:
    code = ("import logging; from chaos.toxiproxy import jsonlog; "
            "jsonlog.event(logging.ERROR, 'unheard', proxy='p'); jsonlog.exception('unheard_too')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
