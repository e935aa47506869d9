"""The history writer and reader: what a crash leaves behind must still be readable."""

from __future__ import annotations

import threading

import pytest

from chaos.history import History, HistoryError, Op, read


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_records_round_trip_with_index_and_time_since_start(tmp_path):
    clock = FakeClock()
    path = tmp_path / "history.jsonl"
    with History(path, clock=clock) as h:
        clock.now = 100.5
        first = h.invoke("alice", "send", {"room": "General", "client_msg_id": "a1", "text": "hi"})
        clock.now = 100.75
        h.ok("alice", "send", {"room": "General", "client_msg_id": "a1", "seq": 1})
        h.fail("bob", "poll", {"room": "General", "after_seq": 0, "error": "UNAVAILABLE"})
        h.info("nemesis", "fault", {"fault": "kill", "target": "node 0", "phase": "start", "params": {}})
    assert first == Op(0, 0.5, "alice", "invoke", "send", {"room": "General", "client_msg_id": "a1", "text": "hi"})
    ops = read(path)
    assert [(o.index, o.time, o.process, o.type, o.f) for o in ops] == [
        (0, 0.5, "alice", "invoke", "send"), (1, 0.75, "alice", "ok", "send"),
        (2, 0.75, "bob", "fail", "poll"), (3, 0.75, "nemesis", "info", "fault")]
    assert ops[1].value["seq"] == 1


def test_each_line_is_on_disk_as_soon_as_it_is_written(tmp_path):
    h = History(tmp_path / "h.jsonl")
    h.ok("bob", "push", {"room": "General", "seq": 1})
    assert [o.f for o in read(tmp_path / "h.jsonl")] == ["push"]  # still open: nothing buffered
    h.close()


def test_a_truncated_last_line_is_dropped(tmp_path):
    path = tmp_path / "h.jsonl"
    with History(path) as h:
        h.ok("bob", "push", {"room": "General", "seq": 1})
        h.ok("bob", "push", {"room": "General", "seq": 2})
    text = path.read_text()
    path.write_text(text + text.splitlines()[0][:17])  # the writer died mid-line
    assert [o.value["seq"] for o in read(path)] == [1, 2]


def test_a_damaged_line_in_the_middle_names_file_and_line(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"index":0,"time":0,"process":"a","type":"ok","f":"push","value":{}}\nnot json\n'
                    '{"index":1,"time":0,"process":"a","type":"ok","f":"push","value":{}}\n')
    with pytest.raises(HistoryError, match=r"h\.jsonl:2: not a history record"):
        read(path)


def test_bad_type_is_refused(tmp_path):
    with History(tmp_path / "h.jsonl") as h, pytest.raises(ValueError, match="history type"):
        h.append("a", "done", "push")


def test_threads_and_coroutines_can_share_one_writer(tmp_path):
    path = tmp_path / "h.jsonl"
    h = History(path)

    def writer(name: str) -> None:
        for i in range(250):
            h.ok(name, "push", {"room": "General", "seq": i})

    threads = [threading.Thread(target=writer, args=(f"c{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.close()
    ops = read(path)
    assert [o.index for o in ops] == list(range(1000))
    assert all(a.time <= b.time for a, b in zip(ops, ops[1:]))
    for i in range(4):
        assert [o.value["seq"] for o in ops if o.process == f"c{i}"] == list(range(250))
