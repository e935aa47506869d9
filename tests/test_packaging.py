"""Installed distributions carry everything ``pushchat`` needs, scenarios included.

Each test builds from its own copy of the source tree (so no build/ or
*.egg-info lands in the checkout while other tests run), installs into a
fresh virtualenv that borrows the dependencies from the environment running
the tests (a venv or the system interpreter, see ``_venv``), and runs that venv's ``pushchat`` from an
unrelated directory, where only the installed files can be found.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
EXPERIMENTS = sorted(p.name for p in (ROOT / "scenarios").glob("*.json"))  # Chaos Toolkit examples
NOT_SOURCE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "runs", ".venv",
                                    ".pytest_cache")
PIP_QUIET = ["--quiet", "--no-deps", "--no-build-isolation", "--no-cache-dir", "--disable-pip-version-check"]


def _run(argv: list[str | Path], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _source_copy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    return src


def _venv(tmp_path: Path, name: str) -> Path:
    """A venv whose pip and dependencies come from this environment; its own site-packages wins.

    ``--system-site-packages`` alone exposes the *base* interpreter's packages: run from a venv
    (as the README's users do), the dependencies installed there would be missing. So a ``.pth``
    line also names this environment's site-packages, after the new venv's own. A plain path
    line, not a site dir: the editable install's finder there is not loaded into the new venv.
    """
    venv = tmp_path / name
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], cwd=tmp_path)
    here = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (own,) = venv.glob("lib/python*/site-packages")
    (own / "_borrowed_from_tests.pth").write_text("".join(f"{path}\n" for path in here))
    return venv / "bin"


def _elsewhere(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    return folder


def _listed(bin_: Path, cwd: Path) -> list[str]:
    out = _run([bin_ / "pushchat", "chaos", "list"], cwd=cwd).stdout
    return sorted(line.split()[0] + ".yaml" for line in out.splitlines()[2:] if line[:1].strip())  # not a wrapped line


def _imported_from(bin_: Path, cwd: Path) -> tuple[Path, Path]:
    code = "import chaos.scenario.files as s; print(s.__file__); print(s.DEFAULT_FOLDER)"
    module, folder = _run([bin_ / "python", "-c", code], cwd=cwd).stdout.split("\n")[:2]
    return Path(module), Path(folder)


def test_wheel_ships_scenarios_and_runs_one_from_anywhere(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    _run([sys.executable, "-m", "pip", "wheel", *PIP_QUIET, "-w", tmp_path / "dist", src], cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("pushchat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for pkg in ("chaos", "system") for suffix in ("*.py", "*.pyi", "*.j2")
               for p in (ROOT / pkg).rglob(suffix)}
    assert modules - names == set(), "modules (or report templates) missing from the wheel"
    assert {f"chaos/scenarios/{n}" for n in [*SCENARIOS, *EXPERIMENTS, "README.md"]} <= names

    bin_ = _venv(tmp_path, "venv")
    _run([bin_ / "python", "-m", "pip", "install", *PIP_QUIET, wheel], cwd=tmp_path)
    here = _elsewhere(tmp_path)
    module, folder = _imported_from(bin_, here)
    assert module.is_relative_to(tmp_path / "venv"), f"chaos imported from {module}, not the installed wheel"
    assert folder.is_relative_to(tmp_path / "venv")
    assert _listed(bin_, here) == SCENARIOS

    out = tmp_path / "runs"
    _run([bin_ / "pushchat", "chaos", "run", "baseline", "--duration", "2", "--quiet", "--out", out], cwd=here)
    assert next(out.rglob("report.html")).stat().st_size > 0  # the installed templates render
    results = json.loads(next(out.rglob("results.json")).read_text())
    assert (results["scenario"], results["passed"]) == ("baseline", True)
    assert results["results"]["sends_ok"] > 0


def test_sdist_carries_scenarios_and_installs_them(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    dist = tmp_path / "dist"
    build = f"from setuptools import build_meta; print(build_meta.build_sdist({str(dist)!r}))"
    sdist = dist / _run([sys.executable, "-c", build], cwd=src).stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {f"scenarios/{n}" for n in [*SCENARIOS, "README.md"]} <= names

    bin_ = _venv(tmp_path, "venv")
    _run([bin_ / "python", "-m", "pip", "install", *PIP_QUIET, sdist], cwd=tmp_path)
    here = _elsewhere(tmp_path)
    assert _imported_from(bin_, here)[0].is_relative_to(tmp_path / "venv")
    assert _listed(bin_, here) == SCENARIOS


def test_editable_install_reads_the_checkouts_scenarios_folder(tmp_path: Path) -> None:
    src = _source_copy(tmp_path)
    bin_ = _venv(tmp_path, "venv")
    _run([bin_ / "python", "-m", "pip", "install", *PIP_QUIET, "--editable", src], cwd=tmp_path)
    here = _elsewhere(tmp_path)
    assert _imported_from(bin_, here) == (src / "chaos" / "scenario" / "files.py", src / "scenarios")
    # A scenario a user adds to the checkout's scenarios/ shows up at once.
    (src / "scenarios" / "my-own.yaml").write_text(
        (src / "scenarios" / "baseline.yaml").read_text().replace("name: baseline", "name: my-own"))
    assert _listed(bin_, here) == sorted([*SCENARIOS, "my-own.yaml"])
