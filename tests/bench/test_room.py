"""The room-membership benchmark counts what a growing room really does: one join notification per other
member, and a member list that grows with the room in join and poll replies."""

from __future__ import annotations

import asyncio

import pytest

from tests.bench import room as room_bench


def test_a_room_grown_to_n_members_pushed_one_notification_per_other_member_per_join() -> None:
    small, large = asyncio.run(room_bench.grow(10, True)), asyncio.run(room_bench.grow(40, True))
    assert small.notifications == 10 * 9 // 2 and large.notifications == 40 * 39 // 2
    assert large.last_reply_kb > 3 * small.last_reply_kb  # the whole list rides on every join reply
    assert large.poll_reply_kb == pytest.approx(large.last_reply_kb, rel=0.2)


def test_the_command_prints_a_table_and_refuses_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert room_bench.main(["--members", "5,8"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| members |") and [row.split("|")[1].strip() for row in out[2:]] == ["5", "8"]
    assert [row.split("|")[5].strip() for row in out[2:]] == ["10 (4)", "28 (7)"]  # one push per join after the first
    for bad in ("x", "0", ""):
        with pytest.raises(SystemExit) as exc:
            room_bench.main(["--members", bad])
        assert exc.value.code == 2


def test_past_the_batch_size_a_join_costs_one_bounded_page_and_no_push_to_everyone() -> None:
    grown = asyncio.run(room_bench.grow(1500))
    assert grown.last_reply_kb <= 16 and grown.poll_reply_kb <= 16 and grown.uptodate_poll_kb < 1
    assert grown.notifications < 1500 * 1499 // 2 // 10  # joins past the batch size went in batches
