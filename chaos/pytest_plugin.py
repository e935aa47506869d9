"""pytest plugin: write a chaos test in a few lines.

Installed with the package (entry point ``pytest11``), it offers the
``chaos`` fixture::

    def test_bob_survives_a_reset(chaos):
        result = chaos.run_yaml('''
            name: bob-reset
            topology: {clients: [alice, bob], rooms: [General]}
            workload: {duration: 4, rate: 10, senders: [alice]}
            faults: [{kind: reset_peer, target: client bob, start: 1, duration: 0.5}]
            expect: {lost: "== 0", reconnects: ">= 1"}
        ''')
        assert result.passed, result.explain()

Each pytest-xdist worker starts its own embedded Toxiproxy server (or uses
``TOXIPROXY_URL``), the ``chaos_links`` fixture; every server and proxy
binds port 0, so workers never collide. Run folders go under pytest's
``tmp_path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from chaos.reports import tables as report
from chaos.scenario.model import Scenario
from chaos.scenario.files import find, read_scenario


class ChaosResult:
    """A finished run, with a readable explanation for assertion messages."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.results = run.results
        self.outcomes = run.outcomes
        self.passed: bool = run.passed
        self.out: Path = run.out

    def explain(self) -> str:
        return "\n".join([f"scenario {self.run.scenario.name} -> {self.out}",
                          report.expectations_table(self.outcomes), report.results_detail(self.results),
                          *[f"note: {n}" for n in self.run.skipped]])


class Chaos:
    """The fixture's value: run scenarios (by name, path or inline YAML) or start a bare topology."""

    def __init__(self, links: Any, tmp_path: Path) -> None:
        self.links = links
        self.tmp_path = tmp_path
        self._runs = 0

    def _out(self, name: str) -> Path:
        self._runs += 1
        return self.tmp_path / f"{self._runs:02d}-{name}"

    def run(self, scenario: str | Path | Scenario, *, seed: int | None = None,
            duration: float | None = None) -> ChaosResult:
        """Run a scenario of ``scenarios/`` (by name), a YAML file, or a loaded Scenario."""
        from chaos.run import run_scenario

        sc = scenario if isinstance(scenario, Scenario) else find(scenario)
        return ChaosResult(asyncio.run(run_scenario(sc, self._out(sc.name), self.links, seed=seed,
                                                    duration=duration)))

    def run_yaml(self, text: str, **kwargs: Any) -> ChaosResult:
        """Run a scenario written inline; its ``name`` names the file it is saved as."""
        import yaml

        text = textwrap.dedent(text)
        name = (yaml.safe_load(text) or {}).get("name", "inline")
        folder = self.tmp_path / "inline-scenarios"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.yaml"
        path.write_text(text)
        return self.run(read_scenario(path), **kwargs)

    @contextlib.asynccontextmanager
    async def topology(self, nodes: int = 1, gates: int = 1, clients: dict[str, int] | None = None,
                       **plan: Any) -> AsyncIterator[Any]:
        """Servers and proxies only, for tests that drive clients themselves (``async with``)."""
        from chaos.topology import Topology, TopologyPlan

        topo = Topology(TopologyPlan(nodes=nodes, gates=gates, clients=dict(clients or {}), **plan),
                        self._out("topology"), self.links)
        async with topo:
            yield topo


@pytest.fixture(scope="session")
def chaos_links(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Toxiproxy server per xdist worker (a ``chaos.infra.links.Links``): ours, logging to a temporary folder,
    or the one at ``TOXIPROXY_URL``."""
    from chaos.infra.links import Links

    links = Links.from_env(log_file=tmp_path_factory.mktemp("toxiproxy") / "server.log")
    try:
        yield links
    finally:
        links.close()


@pytest.fixture
def chaos(chaos_links: Any, tmp_path: Path) -> Chaos:
    """Run chaos scenarios from a test: ``chaos.run(name)``, ``chaos.run_yaml(text)``, ``chaos.topology()``."""
    return Chaos(chaos_links, tmp_path)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A real PostgreSQL server per xdist worker, on a free port in a temporary folder (skipped with
    the reason when the machine has no PostgreSQL binaries)."""
    from chaos.infra.postgres_server import PostgresServer, PostgresUnavailable

    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: Any, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the worker's PostgreSQL server; its DSN."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    return postgres_server.create_database(name)
