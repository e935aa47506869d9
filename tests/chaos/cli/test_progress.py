"""The live lines of ``chaos run`` and ``campaign`` as a CI log (a pipe) gets them: lines of their own."""

from __future__ import annotations

import io
from types import SimpleNamespace

from chaos.campaign import Tally
from chaos.cli.progress import CampaignProgress, Progress
from chaos.run import Status


def test_a_run_in_a_pipe_ends_with_its_final_line_and_nothing_drawn_in_place() -> None:
    out = io.StringIO()
    status = Status("baseline", phase="workload")
    with Progress("[1/1] baseline", status, stream=out):
        status.counts.sends_ok = 7
    lines = out.getvalue().splitlines()
    assert lines and lines[-1].startswith("[1/1] baseline") and "sends 7 ok/0 fail" in lines[-1]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_a_campaign_in_a_pipe_writes_a_line_per_finished_run_only() -> None:
    out = io.StringIO()
    tally = Tally(total=2)
    with CampaignProgress(tally, stream=out) as progress:
        tally.done, tally.failed, tally.last = 1, 1, "baseline seed 1: failed"
        progress.cell_done(SimpleNamespace(duration=4.25), tally)
    [line] = out.getvalue().splitlines()
    assert line.startswith("campaign 1/2 done, 0 running, 1 failed") and line.endswith("last: baseline seed 1: "
                                                                                       "failed (4.2s)")


def test_quiet_lines_write_nothing() -> None:
    out = io.StringIO()
    with Progress("x", Status("x"), quiet=True, stream=out), CampaignProgress(Tally(total=1), quiet=True,
                                                                              stream=out) as campaign:
        campaign.cell_done(SimpleNamespace(duration=1.0), campaign.tally)
    assert out.getvalue() == ""
