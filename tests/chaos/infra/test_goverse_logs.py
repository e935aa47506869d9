"""Goverse's text log lines become log records; its push failure and drop lines the push-logging rule's events."""

from __future__ import annotations

import json
import time

from chaos.infra.goverse_logs import OTHER_REASON, translate, translate_file
from system.contract import ts_seconds

NODE = ("[2026-12-06 20:35:11.992] [WARN] [ChatRoom@ChatRoom-General] Failed to push message to client "
        "127.0.0.1:5/AAZ: gate 127.0.0.1:5 not connected to this node, cannot push message to client 127.0.0.1:5/AAZ")


def test_a_node_push_failure_is_push_failed_with_our_reason_its_error_and_room():
    line = translate(NODE)
    assert (line["event"], line["level"], line["client_id"], line["reason"], line["room"]) == (
        "push_failed", "WARNING", "127.0.0.1:5/AAZ", "gate_not_connected", "General")
    assert "not connected to this node" in line["error"]
    assert ts_seconds(line["ts"]) == time.mktime(time.strptime("2026-12-06 20:35:11", "%Y-%m-%d %H:%M:%S")) + 0.992
    full = translate(NODE.replace("gate 127.0.0.1:5 not connected to this node, cannot push message to client "
                                  "127.0.0.1:5/AAZ", "gate 127.0.0.1:5 message channel is full"))
    assert full["reason"] == "gate_buffer_full"
    odd = translate(NODE.split(": gate")[0] + ": something new")
    assert odd["event"] == "push_failed" and odd["reason"] == OTHER_REASON


def test_gate_drops_are_push_dropped():
    full = translate("[2026-12-06 20:35:12.000] [WARN] [Gate] ClientProxy 127.0.0.1:5/AAZ message channel full, "
                     "dropping message!!!")
    gone = translate("[2026-12-06 20:35:12.000] [WARN] [Gate] Client 127.0.0.1:5/AAZ not found, dropping message "
                     "from node 127.0.0.1:9")
    assert (full["event"], full["reason"]) == ("push_dropped", "client_buffer_full")
    assert (gone["event"], gone["reason"], gone["node"]) == ("push_dropped", "client_not_found", "127.0.0.1:9")


def test_other_lines_are_kept_and_a_file_becomes_json_lines(tmp_path):
    info = translate("[2026-12-06 20:35:12.000] [INFO] [Cluster] Cluster is now ready")
    assert (info["event"], info["level"], info["msg"]) == ("goverse_log", "INFO", "Cluster is now ready")
    assert translate("2026-12-06 20:35:11.911250 I | Gate server started") == {
        "raw": "2026-12-06 20:35:11.911250 I | Gate server started"}
    raw, out = tmp_path / "node0.1.goverse.txt", tmp_path / "node0.1.log"
    raw.write_text(NODE + "\n\n[2026-12-06 20:35:12.000] [INFO] [Cluster] ready\n")
    assert translate_file(raw, out) == 2
    assert [json.loads(line)["event"] for line in out.read_text().splitlines()] == ["push_failed", "goverse_log"]
