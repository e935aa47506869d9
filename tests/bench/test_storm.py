"""The recovery-storm benchmark: what every member of a big room coming back at once costs its node."""

from __future__ import annotations

import asyncio

import pytest

from system.presence import PresenceConfig
from tests.bench import storm as storm_bench


def test_a_big_room_back_from_an_outage_costs_one_small_call_per_member_and_no_list_fetched_again() -> None:
    """Beats of every 5 s turned members away during a 30 s outage (grace 15 s) and back as they returned:
    each flip a change that every member fetched, pages of it. A room asking for slower beats has the grace
    to match, so its members' re-joins and beats bring almost nothing."""
    stretched = asyncio.run(storm_bench.storm(300, 30.0, 5.0, PresenceConfig(heartbeat_rate=15.0)))
    usual = asyncio.run(storm_bench.storm(300, 30.0, 5.0, PresenceConfig(heartbeat_rate=0.0)))
    assert stretched.advised_beat == 20.0 and usual.advised_beat == 0.0  # 300 members at 15 beats a second
    assert stretched.recovery.calls == 300 and stretched.recovery.polls == 0  # the re-join shows what was missed
    assert stretched.beats.calls == 300 and stretched.beats.reply_bytes < 300 * 100
    assert usual.recovery.reply_bytes > 5 * stretched.recovery.reply_bytes  # everyone's flips, to everyone
    assert usual.beats.reply_bytes > 10 * stretched.beats.reply_bytes


def test_the_command_prints_a_row_per_outage_and_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert storm_bench.main(["--members", "20", "--outage", "0,5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| members |") and [row.split("|")[2].strip() for row in out[2:]] == ["0", "5"]
    for bad in (["--outage", "x"], ["--members", "0"], ["--outage", "-1"]):
        with pytest.raises(SystemExit) as exc:
            storm_bench.main(bad)
        assert exc.value.code == 2
