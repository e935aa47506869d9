"""Open a report page in a real headless browser (Debian's chromium, driven by Playwright).

Never ``playwright install``: the browser is the system's (``apt-get install chromium``, as
.ci/run does). Where either is missing the tests that need it are skipped, saying which.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")) if p
                 and Path(p).is_file()), None)


def need_browser() -> str:
    """The chromium binary, or skip the test saying what is missing."""
    if CHROMIUM is None:
        pytest.skip("no chromium installed (apt-get install chromium; .ci/run does it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    return CHROMIUM


@dataclass
class Rendered:
    """What a page showed: console errors, failed requests, and what ``probe`` read from it."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    value: Any = None


def render(page_file: Path, probe: Callable[[Any], Any]) -> Rendered:
    """Load ``page_file`` with the network cut off (every non-file request is recorded, then refused)."""
    from playwright.sync_api import sync_playwright

    seen = Rendered()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=need_browser(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(str(e)))

            def refuse(route: Any) -> None:
                seen.requests.append(route.request.url)
                route.abort()

            page.route(lambda url: not url.startswith(("file:", "data:")), refuse)
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            seen.value = probe(page)
        finally:
            browser.close()
    return seen
