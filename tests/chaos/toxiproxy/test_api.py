"""The HTTP API as such, through raw HTTP: routing, headers, request ids, version (spec: toxiproxy-api.md)."""

from __future__ import annotations

import pytest

from chaos.infra.links import Links
from tests.chaos.toxiproxy.http_api import TEXT
from tests.chaos.toxiproxy.sockets import connect


def test_every_response_of_a_route_has_a_request_id(api) -> None:
    ids = set()
    for method, path in [("GET", "/version"), ("GET", "/proxies/missing"), ("POST", "/populate")]:
        resp = api(method, path)
        rid = resp.headers["X-Toxiproxy-Request-Id"]
        assert len(rid) == 20 and rid.isalnum()
        ids.add(rid)
    assert len(ids) == 3


def test_no_response_names_the_server_software(api) -> None:
    # Go's server sends no Server header; aiohttp's default would say "Python/3.x aiohttp/3.x".
    for method, path in [("GET", "/version"), ("GET", "/nope"), ("PUT", "/proxies"), ("GET", "//version")]:
        assert "Server" not in api(method, path).headers, (method, path)


def test_browsers_are_turned_away(api) -> None:
    resp = api("GET", "/proxies", headers={"User-Agent": "Mozilla/5.0 (X11)"})
    assert resp.status_code == 403
    assert resp.text == "User agent not allowed\n"
    assert "X-Toxiproxy-Request-Id" in resp.headers


# gorilla/mux answers these itself, before the real server's middlewares (request id,
# browser guard) run: so no X-Toxiproxy-Request-Id, and a browser gets the same answer.
@pytest.mark.parametrize("agent", [None, "Mozilla/5.0 (X11)"])
def test_unknown_path_is_a_bare_404(api, agent) -> None:
    for path in ["/nothing/here", "/proxies/", "/metrics", "/proxies/x/toxics/y/z"]:
        resp = api("GET", path, headers={"User-Agent": agent} if agent else None)
        assert (resp.status_code, resp.text) == (404, "404 page not found\n"), path
        assert resp.headers["Content-Type"] == TEXT
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "X-Toxiproxy-Request-Id" not in resp.headers
        assert "X-Toxiproxy-Extensions" not in resp.headers


@pytest.mark.parametrize("agent", [None, "Mozilla/5.0 (X11)"])
def test_wrong_method_is_a_bare_empty_405(api, agent) -> None:
    for method, path in [("PUT", "/proxies"), ("DELETE", "/version"), ("GET", "/reset"), ("GET", "/populate"),
                         ("HEAD", "/proxies"), ("OPTIONS", "/proxies/x/toxics")]:
        resp = api(method, path, headers={"User-Agent": agent} if agent else None)
        assert (resp.status_code, resp.content) == (405, b""), (method, path)
        assert "Content-Type" not in resp.headers
        assert "X-Toxiproxy-Request-Id" not in resp.headers
        assert "Allow" not in resp.headers


@pytest.mark.parametrize("path, location", [
    ("//proxies", "/proxies"),
    ("/proxies/../version", "/version"),
    ("/./version?x=1&y", "/version?x=1&y"),
    ("/proxies//p/toxics/", "/proxies/p/toxics/"),
    ("/proxies/a%20b/./toxics", "/proxies/a%20b/toxics"),
])
def test_unclean_path_is_redirected_to_the_clean_one(api, path, location) -> None:
    status, headers, body = api.raw("GET", path)
    assert (status, headers["Location"], body) == (301, location, b"")
    assert headers["Content-Length"] == "0" and "Content-Type" not in headers
    assert "X-Toxiproxy-Request-Id" not in headers


def test_version(api) -> None:
    resp = api("GET", "/version")
    assert resp.status_code == 200
    assert resp.text == '{"version": "2.12.0"}\n'
    assert resp.headers["Content-Type"] == "application/json;charset=utf-8"
    assert set(resp.headers["X-Toxiproxy-Extensions"].split(",")) == {"reset", "stall"}


def test_garbage_on_the_api_port_gets_an_error_and_the_server_keeps_serving(links: Links, api) -> None:
    with connect(links.url.removeprefix("http://")) as sock:
        sock.sendall(b"\x00\x01GARBAGE \xff\r\n\r\n")
        answer = sock.recv(4096)
    assert answer == b"" or answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    assert api("GET", "/version").status_code == 200
