"""The checker is pure: of the project it imports only the history's record type, the system's
log/metric names (``system.contract``) and itself; never the topology, the runner or I/O modules."""

from __future__ import annotations

import ast
from pathlib import Path

CHECKER = Path(__file__).resolve().parents[3] / "chaos" / "checker"
ALLOWED = ("chaos.checker", "chaos.history", "system.contract")


def project_imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"  # absolute imports only, as in the rest of chaos/
            names.append(node.module or "")
    return [n for n in names if n.split(".")[0] in ("chaos", "system")]


def test_the_checker_imports_nothing_of_the_project_but_the_history_and_the_system_contract():
    files = sorted(CHECKER.rglob("*.py"))
    assert len(files) >= 10
    stray = [f"{p.relative_to(CHECKER)} imports {name}" for p in files for name in project_imports(p)
             if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED)]
    assert stray == []
