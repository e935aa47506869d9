"""The README leads a newcomer: short, in the order they need it, and every page it points to exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_readme_is_short_and_in_a_newcomers_order() -> None:
    assert len(README.splitlines()) <= 160
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings == ["Set up (Python 3.11+, Linux)", "A first look: chat", "Run a scenario and read its report",
                        "Where the rest is"]
    setup = README[README.index("## Set up"):README.index("## A first look")]
    for said in ("python3 -m venv", "pip install -e '.[test]'", "pushchat chaos run --all", "minutes",
                 "python3 -m pytest -n auto", "runs/<time>-<pid>/", "report.html"):
        assert said in setup, said


def test_every_page_the_readme_links_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links and all((ROOT / link).is_file() for link in links), links


def test_the_ci_runs_the_readmes_test_command() -> None:
    command = re.search(r"^(python3 -m pytest[^#\n]*?)\s*(#.*)?$", README, re.M).group(1)  # type: ignore[union-attr]
    ci = (ROOT / ".ci" / "run").read_text()
    assert command.replace("python3", "python") in ci
