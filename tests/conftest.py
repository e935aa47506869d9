"""The whole suite's one conftest: ``async def`` tests run in a fresh event loop (the project has no
pytest-asyncio). Fixtures live beside the tests that use them (tests/chaos/toxiproxy/conftest.py) or in the
``chaos`` pytest plugin (chaos/pytest_plugin.py: ``chaos``, ``chaos_links``, ``postgres_server``, ...)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

ASYNC_TEST_TIMEOUT = 60.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), ASYNC_TEST_TIMEOUT))
    return True


# Modules whose tests take tens of seconds each (installs, benches, real clusters, Goverse's servers), besides
# those marked ``chaos``. They are handed out first so that `-n auto` does not end on one worker finishing a
# long test while the other is idle; order never changes what a test checks.
LONG_MODULES = ("tests/test_packaging.py", "tests/interop/", "tests/bench/test_store.py",
                "tests/bench/test_cluster.py", "tests/bench/test_capacity.py", "tests/reconnect/",
                "tests/system/test_cluster_failover.py", "tests/system/test_cli.py",
                "tests/chaos/infra/test_netns")  # test_netns.py, test_netns_topology.py: namespaces, real clusters


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]
    long = {module(i) for i in items if i.get_closest_marker("chaos") or module(i).startswith(LONG_MODULES)}
    items.sort(key=lambda item: module(item) not in long)  # stable, whole modules: their fixtures are shared as before
