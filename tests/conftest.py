"""The whole suite's one conftest: ``async def`` tests run in a fresh event loop (the project has no
pytest-asyncio). Fixtures live beside the tests that use them (tests/chaos/toxiproxy/conftest.py) or in the
``chaos`` pytest plugin (chaos/pytest_plugin.py: ``chaos``, ``chaos_links``, ``postgres_server``, ...); here only
those that two folders' tests share: proxies to an echo server (``make_link``) for the Toxiproxy server's tests
and the harness adapter's (tests/chaos/infra/test_links.py)."""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from typing import TYPE_CHECKING, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from chaos.infra.links import Link, Links
    from tests.chaos.toxiproxy.sockets import TcpServer

ASYNC_TEST_TIMEOUT = 60.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), ASYNC_TEST_TIMEOUT))
    return True


# Modules whose tests take tens of seconds each (installs, benches, real clusters, Goverse's servers), besides
# those marked ``chaos``, longest first. They are handed out first so that `-n auto` does not end on one worker
# finishing a long test while the others are idle; order never changes what a test checks.
LONGEST = ("tests/chaos/soak/test_soak.py", "tests/interop/test_goverse_scenarios.py")  # minutes each
LONG_MODULES = ("tests/test_packaging.py", "tests/interop/", "tests/bench/test_store.py",
                "tests/bench/test_cluster.py", "tests/bench/test_capacity.py", "tests/reconnect/",
                "tests/system/test_cluster_failover.py", "tests/system/test_cli.py",
                "tests/chaos/infra/test_netns")  # test_netns.py, test_netns_topology.py: namespaces, real clusters


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]
    long = {module(i) for i in items if i.get_closest_marker("chaos") or module(i).startswith(LONG_MODULES)}
    # stable, whole modules: their fixtures are shared as before
    items.sort(key=lambda item: 0 if module(item).startswith(LONGEST) else 1 if module(item) in long else 2)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers per core. A test mostly waits on its servers (the whole suite keeps about a third
    of two cores busy with one worker per core), so one worker per core leaves most of the machine idle.
    PUSHCHAT_TEST_WORKERS sets the number outright."""
    if os.environ.get("PUSHCHAT_TEST_WORKERS"):
        return int(os.environ["PUSHCHAT_TEST_WORKERS"])
    return 2 * len(os.sched_getaffinity(0))


# -- proxies to an echo server ----------------------------------------------------------------------

@pytest.fixture
def links(chaos_links: Links) -> Links:
    """The Toxiproxy server ``make_link`` makes proxies on: the worker's (the ``chaos`` plugin's); the server's own
    tests (tests/chaos/toxiproxy/conftest.py) override it with an embedded server of their own."""
    return chaos_links


@pytest.fixture(scope="session")
def echo_server() -> Iterator[TcpServer]:
    """One blocking echo server per worker, the upstream of the proxies ``make_link`` makes."""
    from tests.chaos.toxiproxy.sockets import TcpServer, echo
    server = TcpServer(echo)
    yield server
    server.close()


@pytest.fixture
def make_link(links: Links, echo_server: TcpServer) -> Iterator[Callable[..., Link]]:
    """``make_link(upstream=echo, **kwargs)``: a uniquely named proxy on ``links``, deleted after the test."""
    from chaos.infra.links import ToxiproxyError
    made: list[Link] = []

    def make(upstream: str | None = None, **kwargs) -> Link:
        link = links.create(f"t-{uuid.uuid4().hex[:10]}", upstream or echo_server.addr, **kwargs)
        made.append(link)
        return link

    yield make
    for link in made:
        try:
            link.delete()
        except ToxiproxyError:  # the test deleted it itself
            pass
