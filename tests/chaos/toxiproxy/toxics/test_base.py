"""The toxic registry: a toxic is one module, found by itself; the extensions are read from it."""

from __future__ import annotations

import json
import os
import pkgutil
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import chaos.infra.links
import chaos.toxiproxy
import chaos.toxiproxy.toxics as toxics_package
from chaos.infra.links import Links
from chaos.toxiproxy.toxics import EXTENSIONS, REGISTRY, Toxic, register
from tests.chaos.toxiproxy.sockets import connect, recv_exactly

PACKAGE = Path(chaos.toxiproxy.__file__).parent
TESTS = Path(__file__).parent
TOXIC_MODULES = sorted(m.name for m in pkgutil.iter_modules(toxics_package.__path__)
                       if m.name not in ("base", "stage"))

SHOUT = '''"""``shout``: a toxic no list names: it upper-cases what passes."""

from .base import Toxic, register
from .stage import Chunk, Stub


@register("shout")
class Shout(Toxic):
    async def pipe(self, stub: Stub) -> None:
        async for chunk in stub.chunks():
            stub.send(Chunk(chunk.data.upper(), chunk.ts))
'''


@pytest.fixture
def server_with_a_new_toxic(tmp_path: Path) -> Iterator[Links]:
    """Our server run from a copy of its package with one more file: ``toxics/shout.py``."""
    shutil.copytree(PACKAGE, tmp_path / "chaos/toxiproxy", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "chaos/__init__.py").write_text("")
    (tmp_path / "chaos/toxiproxy/toxics/shout.py").write_text(SHOUT)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "chaos.toxiproxy", "--host", "127.0.0.1", "--port", "0",
                             "--exit-with-parent", "--log-file", str(tmp_path / "server.log")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 20
        while not select.select([proc.stdout], [], [], 0.5)[0]:
            assert proc.poll() is None and time.monotonic() < deadline, "the copied server did not start"
        line = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        yield Links.external(f"http://{line['addr']}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]


def test_a_new_toxic_module_is_found_without_being_listed(server_with_a_new_toxic: Links, echo_server) -> None:
    link = server_with_a_new_toxic.create("shouty", echo_server.addr)
    assert link.add_toxic("shout") == "shout_downstream"
    with connect(link.listen) as sock:
        sock.sendall(b"hello")
        assert recv_exactly(sock, 5) == b"HELLO"


def test_every_toxic_module_registers_its_toxic() -> None:
    assert sorted({cls.__module__.rpartition(".")[2] for cls in REGISTRY.values()}) == TOXIC_MODULES


def test_the_extensions_are_read_from_the_registry() -> None:
    assert EXTENSIONS == {name for name, cls in REGISTRY.items() if cls.EXTENSION} == {"stall", "reset"}
    assert chaos.infra.links.EXTENSIONS is EXTENSIONS  # the harness has no list of its own


def test_a_type_registered_twice_is_refused() -> None:
    before = dict(REGISTRY)
    with pytest.raises(ValueError, match="toxic type 'latency' is registered twice: "
                                         "chaos.toxiproxy.toxics.latency and tests.chaos.toxiproxy.toxics.test_base"):
        @register("latency")
        class Again(Toxic):
            pass
    assert REGISTRY == before


@pytest.mark.parametrize("module", [m.name for m in pkgutil.iter_modules(toxics_package.__path__)])
def test_every_toxics_module_has_its_test_file_beside_its_name(module: str) -> None:
    assert (TESTS / f"test_{module}.py").is_file()
