"""The Chaos Toolkit example in docs/harness.md leaves nothing in the checkout: its log and journal go under runs/."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_ctk_command() -> list[str]:
    """docs/harness.md's ``chaos … run … ctk-baseline.json`` line (with its continuation), as words."""
    text = (ROOT / "docs" / "harness.md").read_text(encoding="utf-8")
    found = re.search(r"^ *(mkdir [^\n]*chaos [^\n]*\\\n[^\n]*ctk-baseline\.json)", text, re.M)
    assert found, "docs/harness.md shows how to run scenarios/ctk-baseline.json with their CLI"
    return shlex.split(found[1].replace("\\\n", " "), comments=True)


def test_the_readme_sends_their_log_and_journal_under_runs() -> None:
    words = readme_ctk_command()
    chaos = words.index("chaos")
    paths = {words[i]: words[i + 1] for i in range(chaos, len(words) - 1) if words[i] in ("--log-file",
                                                                                           "--journal-path")}
    assert set(paths) == {"--log-file", "--journal-path"}
    assert all(Path(p).parts[0] == "runs" for p in paths.values()), paths
    assert f"mkdir -p {Path(paths['--log-file']).parent}" in " ".join(words)  # their CLI will not make the folder


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_git_ignores_what_their_cli_leaves_by_default() -> None:
    names = ["chaostoolkit.log", "journal.json", "runs/ctk/journal.json"]
    done = subprocess.run(["git", "check-ignore", *names], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == names, done.stdout + done.stderr
