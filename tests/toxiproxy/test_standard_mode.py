"""``--standard``: our server offers no extension, exactly like the real Toxiproxy.

The chaos harness must then use only the standard API; these tests pin what
"standard" means so a run against it proves that.
"""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
import requests

from chaos.links import Links, ToxiproxyError


@pytest.fixture(scope="module")
def standard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Links]:
    log_file = tmp_path_factory.mktemp("toxiproxy-standard") / "server.log"
    with Links.embedded(log_file=log_file, args=["--standard"]) as links:
        yield links


def test_standard_server_is_not_taken_for_ours(standard: Links) -> None:
    assert standard.supports_extensions is False
    response = requests.get(standard.url + "/version", timeout=5)
    assert "X-Toxiproxy-Extensions" not in response.headers
    assert response.json() == {"version": "2.12.0"}


@pytest.mark.parametrize("extension", ["stall", "reset"])
def test_extension_toxics_are_unknown_types(standard: Links, extension: str) -> None:
    name = f"std-{uuid.uuid4().hex[:8]}"
    standard.create(name, "127.0.0.1:9")
    try:
        response = requests.post(f"{standard.url}/proxies/{name}/toxics",
                                 json={"type": extension, "attributes": {}}, timeout=5)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid toxic type", "status": 400}
        with pytest.raises(ToxiproxyError):
            standard.get(name).add_toxic(extension)
    finally:
        standard.delete(name)


def test_standard_toxics_still_work(standard: Links) -> None:
    name = f"std-{uuid.uuid4().hex[:8]}"
    link = standard.create(name, "127.0.0.1:9")
    try:
        assert link.add_toxic("latency", attributes={"latency": 5}) == "latency_downstream"
        assert list(link.toxics()) == ["latency_downstream"]
    finally:
        link.delete()
