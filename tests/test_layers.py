"""The project's layer rules, read from the imports of every module.

- ``system/`` (the chat) never imports ``chaos`` (the harness that tests it);
- ``chaos/toxiproxy/`` (a product of its own) imports neither ``system`` nor
  the rest of ``chaos``;
- ``chaos/faults/`` (the fault model) imports neither ``chaos/infra/`` (the machinery it acts on, through
  Protocols) nor gRPC;
- ``chaos/reports/`` (what a finished run shows) imports no running machinery;
- no two modules import each other, directly or round a loop, except type-only (``if TYPE_CHECKING:``)
  back-references, each commented (the tests and benches too);
- no module is over 500 lines (``system/``, ``chaos/`` and ``tests/``).

Every import counts: at the top, inside a function, or relative (resolved
against the importing module's package).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT, tree: ast.Module | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file (``tree``: the file already parsed)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree or ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(folder: str, forbidden: tuple[str, ...], allowed: str | None = None,
               root: Path = ROOT) -> list[str]:
    """``file:line imports name`` for each import under ``folder`` of a ``forbidden`` package."""
    out = []
    for path in sorted((root / folder).rglob("*.py")):
        flagged: set[int] = set()
        for line, name in imports(path, root):  # ``from a import b``: a, and a.b (a module or not)
            if line in flagged:
                continue
            if any(within(name, bad) for bad in forbidden) and not (allowed and within(name, allowed)):
                flagged.add(line)
                out.append(f"{path.relative_to(root)}:{line} imports {name}")
    return out


def test_the_chat_system_does_not_import_the_harness() -> None:
    assert list((ROOT / "system").rglob("*.py")), "no system/ modules found"
    assert violations("system", ("chaos",)) == []


def test_the_toxiproxy_server_imports_neither_the_system_nor_the_rest_of_chaos() -> None:
    assert list((ROOT / "chaos/toxiproxy").rglob("*.py")), "no chaos/toxiproxy/ modules found"
    assert violations("chaos/toxiproxy", ("system", "chaos"), allowed="chaos.toxiproxy") == []


#: What a run starts and drives: the fault model acts on it through Protocols, and reports only read its folder.
MACHINERY = ("chaos.infra", "grpc", "aiohttp", "requests", "system.pb", "system.client", "system.node",
             "system.gate", "system.server", "chaos.topology")


def test_the_fault_model_imports_neither_the_infrastructure_nor_grpc() -> None:
    assert list((ROOT / "chaos/faults").rglob("*.py")), "no chaos/faults/ modules found"
    assert violations("chaos/faults", MACHINERY) == []


def test_reports_import_no_running_machinery() -> None:
    """A finished run folder can be re-reported anywhere: nothing of the reports starts or drives a run."""
    assert list((ROOT / "chaos/reports").rglob("*.py")), "no chaos/reports/ modules found"
    running = (*MACHINERY, "chaos.workload", "chaos.faults", "chaos.run", "chaos.campaign", "chaos.cli", "chaos.ctk",
               "chaos.pytest_plugin")
    assert violations("chaos/reports", running) == []


@pytest.mark.parametrize("source, where, expected", [
    ("from system import log\n", "chaos/toxiproxy/x.py", "system"),
    ("from ..infra.links import Links\n", "chaos/toxiproxy/x.py", "chaos.infra.links"),
    ("from ... import checker\n", "chaos/toxiproxy/toxics/x.py", "chaos"),
    ("def f():\n    import chaos.faults.fault\n", "chaos/toxiproxy/x.py", "chaos.faults.fault"),
    ("import system.log as log\n", "chaos/toxiproxy/__init__.py", "system.log"),
])
def test_every_kind_of_import_is_seen(tmp_path: Path, source: str, where: str, expected: str) -> None:
    """Relative and lazy imports count too, or the rules would pass on code that breaks them."""
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert expected in [name for _, name in imports(path, tmp_path)]
    [found] = violations("chaos/toxiproxy", ("system", "chaos"), allowed="chaos.toxiproxy", root=tmp_path)
    assert found.startswith(f"{where}:")


def test_imports_within_the_toxiproxy_package_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "chaos/toxiproxy/toxics/x.py"
    path.parent.mkdir(parents=True)
    path.write_text("from ..decode import ApiError\nfrom . import base\nimport chaos.toxiproxy.api\n")
    assert violations("chaos/toxiproxy", ("system", "chaos"), allowed="chaos.toxiproxy", root=tmp_path) == []


# -- no import cycles ------------------------------------------------------------------------------

def _type_checking_lines(tree: ast.Module) -> dict[int, int]:
    """Line of each import under ``if TYPE_CHECKING:`` -> the line of that ``if``."""
    out: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        out[sub.lineno] = node.lineno
    return out


def import_graph(root: Path = ROOT, tops: tuple[str, ...] = ("chaos", "system")
                 ) -> tuple[dict[str, set[str]], list[tuple[str, str, bool]]]:
    """Module -> the project modules it imports at run time (at the top or lazily); and the type-only
    imports: (module, imported module, commented). ``from a import b`` is an edge to a.b when that is a
    module, else to a; a package's ``__init__`` run by importing its submodule is not an edge."""
    files = {module_name(p, root): p for top in tops for p in (root / top).rglob("*.py")
             if "scenarios" not in p.relative_to(root).parts}

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in files}
    type_only: list[tuple[str, str, bool]] = []
    for mod, path in files.items():
        text = path.read_text(encoding="utf-8")
        lines, tree = text.splitlines(), ast.parse(text, str(path))
        guarded = _type_checking_lines(tree)
        names: dict[int, set[str]] = {}
        for line, name in imports(path, root, tree):
            names.setdefault(line, set()).add(name)
        for line, found in names.items():
            modules = {n for n in found if n in files} or {m for m in map(known, found) if m}
            modules = {m for m in modules if not any(o != m and o.startswith(m + ".") for o in modules)}
            for target in modules - {mod}:
                if line in guarded:
                    type_only.append((mod, target, "#" in lines[line - 1] or "#" in lines[guarded[line] - 1]))
                else:
                    graph[mod].add(target)
    return graph, type_only


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        v = todo.pop()
        if v == goal:
            return True
        if v not in seen:
            seen.add(v)
            todo += graph.get(v, ())
    return False


def test_no_two_modules_import_each_other() -> None:
    graph, type_only = import_graph(tops=("chaos", "system", "tests"))
    assert cycles(graph) == []
    uncommented = [f"{mod} -> {target}" for mod, target, commented in type_only
                   if reaches(graph, target, mod) and not commented]
    assert uncommented == [], "a type-only back-reference says why (a comment on its line or its `if`)"


def test_a_cycle_is_seen_however_it_is_imported(tmp_path: Path) -> None:
    for name, source in {"a": "from chaos.pkg import b\n", "b": "def f():\n    from . import c\n",
                         "c": "import chaos.pkg.a\n", "d": "from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from chaos.pkg.a import X\n", "__init__": ""}.items():
        path = tmp_path / "chaos/pkg" / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (tmp_path / "chaos/__init__.py").write_text("")
    graph, type_only = import_graph(tmp_path, ("chaos",))
    assert cycles(graph) == [["chaos.pkg.a", "chaos.pkg.b", "chaos.pkg.c"]]
    assert type_only == [("chaos.pkg.d", "chaos.pkg.a", False)]


# -- one module, one job ---------------------------------------------------------------------------

LONGEST = 500


def long_modules(root: Path = ROOT, tops: tuple[str, ...] = ("system", "chaos", "tests")) -> list[str]:
    """``path: lines`` of each Python module over ``LONGEST`` lines (generated gRPC code aside)."""
    out = []
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            if "pb" in path.relative_to(root).parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > LONGEST:
                out.append(f"{path.relative_to(root)}: {lines}")
    return out


def test_no_module_is_over_500_lines() -> None:
    """A module that outgrows 500 lines is doing more than one job: split it by job, not by line count."""
    assert long_modules() == []


def test_a_long_module_is_seen(tmp_path: Path) -> None:
    (tmp_path / "tests/bench").mkdir(parents=True)
    (tmp_path / "tests/bench/long.py").write_text("x = 1\n" * (LONGEST + 1))
    (tmp_path / "tests/bench/short.py").write_text("x = 1\n" * LONGEST)
    assert long_modules(tmp_path) == [f"tests/bench/long.py: {LONGEST + 1}"]


# -- the tests mirror the code ---------------------------------------------------------------------

PACKAGES = sorted(p.parent.relative_to(ROOT) for top in ("system", "chaos") for p in (ROOT / top).rglob("__init__.py")
                  if "pb" not in p.parent.parts and "scenarios" not in p.parent.parts)


@pytest.mark.parametrize("package", PACKAGES, ids=str)
def test_every_package_has_its_test_folder(package: Path) -> None:
    """``system/store/`` is tested in ``tests/system/store/``, ``chaos/toxiproxy/toxics/`` in
    ``tests/chaos/toxiproxy/toxics/``: a newcomer finds a module's tests where the module is."""
    folder = ROOT / "tests" / package
    assert folder.is_dir() and list(folder.glob("test_*.py")), f"no tests in tests/{package}/ for {package}/"


def test_one_root_conftest_and_no_import_tricks() -> None:
    """Helpers are imported as modules of the ``tests`` package: nothing edits sys.path or execs a file."""
    conftests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("conftest.py"))
    assert "tests/conftest.py" in conftests
    assert set(conftests) <= {"tests/conftest.py", "tests/chaos/toxiproxy/conftest.py"}, conftests
    tricks = [f"{p.relative_to(ROOT)}: {word}" for p in (ROOT / "tests").rglob("*.py") if p.name != "test_layers.py"
              for word in ("sys.path", "spec_from_file_location", "exec_module") if word in p.read_text()]
    assert not tricks, tricks


def test_pushchat_chaos_list_and_the_fault_model_import_no_grpc() -> None:
    """Listing scenarios reads YAML and the fault kinds' parameters; it must not pay for gRPC or HTTP."""
    code = ("import contextlib, io, sys\n"
            "from chaos.cli import main as cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert cli.main(['chaos', 'list']) == 0\n"
            "import chaos.faults.kinds\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'aiohttp', 'requests')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_status_names_the_contract_spells_out_are_grpcs() -> None:
    import grpc

    from system import contract
    assert contract.STATUS_CODES == tuple(c.name for c in grpc.StatusCode if c is not grpc.StatusCode.OK)
