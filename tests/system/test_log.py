"""Log lines' ``ts``: ISO 8601 local time with its offset, that reads as a time, sorts as text and reads back."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from system import log
from system.contract import log_ts, ts_seconds

ISO_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d")


def test_each_line_says_when_in_iso_8601_with_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    root = logging.getLogger("pushchat")
    kept = (list(root.handlers), root.level, root.propagate)
    before = time.time()
    log.setup("node", path=str(path))
    try:
        for i in range(3):
            log.event(log.get("test"), logging.INFO, "tick", i=i)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in kept[0]:
            root.addHandler(handler)
        root.setLevel(kept[1])
        root.propagate = kept[2]
    after = time.time()
    lines = log.read(str(path))
    assert [line["event"] for line in lines] == ["tick"] * 3
    assert all(ISO_TS.fullmatch(line["ts"]) for line in lines), lines
    assert all(before - 1e-6 <= ts_seconds(line["ts"]) <= after + 1e-6 for line in lines)  # type: ignore[operator]
    assert [line["ts"] for line in lines] == sorted(line["ts"] for line in lines)


def test_stamps_of_one_offset_sort_as_text_as_they_do_as_times() -> None:
    moments = [1_700_000_000.0, 1_700_000_000.000001, 1_700_000_009.5, 1_700_000_010.25, 1_700_086_400.0]
    stamps = [log_ts(t) for t in moments]
    assert len({len(s) for s in stamps}) == 1  # always as wide: microseconds even when 0
    assert sorted(stamps) == stamps and [ts_seconds(s) for s in stamps] == moments


def test_older_logs_numeric_ts_and_garbage_read_back_as_well_as_they_can() -> None:
    assert ts_seconds(1764190000.25) == 1764190000.25 and ts_seconds(7) == 7.0
    assert ts_seconds("yesterday") is None and ts_seconds(None) is None and ts_seconds(True) is None
