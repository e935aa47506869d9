"""The system tests' runner for ``async def`` tests and their harness, and one Toxiproxy server per worker."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from chaos.links import Links

SYSTEM_TESTS = Path(__file__).resolve().parent.parent / "system"
sys.path.insert(0, str(SYSTEM_TESTS))  # system_harness: clusters, relays, log capture, wait_until

_spec = importlib.util.spec_from_file_location("system_tests_conftest", SYSTEM_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_system_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_system_conftest)
pytest_pyfunc_call = _system_conftest.pytest_pyfunc_call


@pytest.fixture(scope="session")
def links(chaos_links: Links) -> Links:
    """The worker's one Toxiproxy server: the ``chaos`` plugin's ``chaos_links``."""
    return chaos_links
