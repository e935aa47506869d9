"""The project's layer rules, read from the imports of every module.

- ``system/`` (the chat) never imports ``chaos`` (the harness that tests it);
- ``chaos/toxiproxy/`` (a product of its own) imports neither ``system`` nor
  the rest of ``chaos``.

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


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
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
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(folder: str, forbidden: tuple[str, ...], allowed: str | None = None,
               root: Path = ROOT) -> list[str]:
    """``file:line imports name`` for each import under ``folder`` of a ``forbidden`` package."""
    out = []
    for path in sorted((root / folder).rglob("*.py")):
        for line, name in imports(path, root):
            if any(within(name, bad) for bad in forbidden) and not (allowed and within(name, allowed)):
                out.append(f"{path.relative_to(root)}:{line} imports {name}")
    return out


def test_the_chat_system_does_not_import_the_harness() -> None:
    assert list((ROOT / "system").rglob("*.py")), "no system/ modules found"
    assert violations("system", ("chaos",)) == []


def test_the_toxiproxy_server_imports_neither_the_system_nor_the_rest_of_chaos() -> None:
    assert list((ROOT / "chaos/toxiproxy").rglob("*.py")), "no chaos/toxiproxy/ modules found"
    assert violations("chaos/toxiproxy", ("system", "chaos"), allowed="chaos.toxiproxy") == []


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
