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
