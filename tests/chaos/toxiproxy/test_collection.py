"""The proxies through raw HTTP: ``/proxies``, ``/populate``, ``/reset`` (spec: toxiproxy-api.md)."""

from __future__ import annotations

import json
import socket

import pytest

from tests.chaos.toxiproxy.http_api import create, error
from tests.chaos.toxiproxy.sockets import Sink, TcpServer, connect, round_trip, wait_for


def test_index_is_an_empty_object_then_maps_names_to_proxies(fresh_api, echo_server) -> None:
    resp = fresh_api("GET", "/proxies")
    assert (resp.status_code, resp.text, resp.headers["Content-Type"]) == (200, "{}", "application/json")
    a = create(fresh_api, "a", echo_server.addr)
    b = create(fresh_api, "b", echo_server.addr)
    assert fresh_api("GET", "/proxies").json() == {"a": a, "b": b}


def test_create_returns_201_with_the_resolved_listen_address(api, name, echo_server) -> None:
    proxy = create(api, name, echo_server.addr)
    # "Logger": the real Proxy struct's exported, untagged *zerolog.Logger, which Go marshals as {}.
    assert list(proxy) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    host, port = proxy["listen"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert proxy == {"name": name, "listen": proxy["listen"], "upstream": echo_server.addr,
                     "enabled": True, "Logger": {}, "toxics": []}
    with connect(proxy["listen"]) as sock:
        round_trip(sock)
    assert api("GET", f"/proxies/{name}").json() == proxy
    assert api("DELETE", f"/proxies/{name}").status_code == 204


def test_create_does_not_dial_the_upstream(api, name) -> None:
    resp = api("POST", "/proxies", {"name": name, "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0"})
    assert resp.status_code == 201
    api("DELETE", f"/proxies/{name}")


def test_create_disabled_keeps_the_requested_listen(api, name, echo_server) -> None:
    proxy = create(api, name, echo_server.addr, enabled=False)
    assert (proxy["enabled"], proxy["listen"]) == (False, "127.0.0.1:0")
    api("DELETE", f"/proxies/{name}")


@pytest.mark.parametrize("body, message", [
    (b"", "bad request body: EOF"),
    (b"{nope", "bad request body: invalid character 'n' looking for beginning of object key string"),
    (b'{"name": 5, "upstream": "x:1"}',
     "bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string"),
    (b'{"name": "n", "upstream": "x:1", "enabled": "yes"}',
     "bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled of type bool"),
    (b"[]", "bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy"),
    (b'"n"', "bad request body: json: cannot unmarshal string into Go value of type toxiproxy.Proxy"),
    (b'{"name": "n", "upstream": "x:1", "logger": 1}',
     "bad request body: json: cannot unmarshal number into Go struct field Proxy.Logger of type zerolog.Logger"),
    (b'{"upstream": "x:1"}', "missing required field: name"),
    (b'{"name": "n"}', "missing required field: upstream"),
])
def test_create_rejects_bad_bodies(api, body: bytes, message: str) -> None:
    error(api("POST", "/proxies", raw=body), 400, message)


def test_create_duplicate_is_409_and_bind_failure_is_500(api, name, echo_server) -> None:
    proxy = create(api, name, echo_server.addr)
    error(api("POST", "/proxies", {"name": name, "upstream": echo_server.addr}), 409, "proxy already exists")
    taken = proxy["listen"]
    error(api("POST", "/proxies", {"name": name + "x", "upstream": echo_server.addr, "listen": taken}),
          500, f"listen tcp {taken}: bind: address already in use")
    assert api("GET", f"/proxies/{name}x").status_code == 404
    api("DELETE", f"/proxies/{name}")


def test_show_update_delete_of_a_missing_proxy_are_404(api) -> None:
    for method in ("GET", "POST", "PATCH", "DELETE"):
        error(api(method, "/proxies/missing", {}), 404, "proxy not found")


def test_disable_closes_connections_and_enable_listens_on_the_same_address(api, name, echo_server) -> None:
    proxy = create(api, name, echo_server.addr)
    sock = connect(proxy["listen"])
    round_trip(sock)
    off = api("PATCH", f"/proxies/{name}", {"enabled": False})
    assert off.status_code == 200 and off.json() == {**proxy, "enabled": False}
    assert sock.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(proxy["listen"])
    on = api("POST", f"/proxies/{name}", {"enabled": True})
    assert on.json() == proxy
    with connect(proxy["listen"]) as again:
        round_trip(again)
    api("DELETE", f"/proxies/{name}")


def test_update_is_partial_and_a_new_address_restarts_the_proxy(api, name, echo_server) -> None:
    proxy = create(api, name, echo_server.addr)
    sock = connect(proxy["listen"])
    round_trip(sock)
    same = api("PATCH", f"/proxies/{name}", {}).json()
    assert same == proxy
    moved = api("PATCH", f"/proxies/{name}", {"listen": "127.0.0.1:0"}).json()
    assert moved["enabled"] and moved["listen"] != proxy["listen"] and moved["upstream"] == echo_server.addr
    assert sock.recv(10) == b""  # restarted: connections dropped
    with connect(moved["listen"]) as fresh:
        round_trip(fresh)
    error(api("PATCH", f"/proxies/{name}", raw=b"{"), 400, "bad request body: unexpected EOF")
    api("DELETE", f"/proxies/{name}")


def test_delete_closes_connections_and_frees_the_port(api, name, echo_server) -> None:
    proxy = create(api, name, echo_server.addr)
    sock = connect(proxy["listen"])
    round_trip(sock)
    resp = api("DELETE", f"/proxies/{name}")
    assert (resp.status_code, resp.text) == (204, "")
    assert sock.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(proxy["listen"])
    error(api("DELETE", f"/proxies/{name}"), 404, "proxy not found")


def test_populate_creates_keeps_identical_and_replaces_changed(fresh_api, echo_server) -> None:
    resp = fresh_api("POST", "/populate", [{"name": "a", "upstream": echo_server.addr, "listen": "127.0.0.1:0"},
                                           {"name": "b", "upstream": echo_server.addr, "enabled": False}])
    assert resp.status_code == 201 and resp.headers["Content-Type"] == "application/json"
    created = resp.json()["proxies"]
    assert [p["name"] for p in created] == ["a", "b"] and [p["enabled"] for p in created] == [True, False]
    a = created[0]
    fresh_api("POST", "/proxies/a/toxics", {"type": "noop"})
    again = fresh_api("POST", "/populate", [{"name": "a", "upstream": echo_server.addr, "listen": a["listen"]},
                                            {"name": "b", "upstream": "127.0.0.1:9", "enabled": False}])
    assert again.status_code == 201
    kept, replaced = again.json()["proxies"]
    assert kept["listen"] == a["listen"] and [t["name"] for t in kept["toxics"]] == ["noop_downstream"]
    assert replaced["upstream"] == "127.0.0.1:9"
    assert set(fresh_api("GET", "/proxies").json()) == {"a", "b"}


@pytest.mark.parametrize("body", [b"[]", b"null", b" [] trailing"])
def test_populate_with_no_proxies_answers_null(fresh_api, body) -> None:
    # Go marshals the empty list of proxies it made as null.
    resp = fresh_api("POST", "/populate", raw=body)
    assert (resp.status_code, resp.text, resp.headers["Content-Type"]) == (201, '{"proxies":null}',
                                                                         "application/json")
    assert "X-Toxiproxy-Request-Id" in resp.headers
    assert fresh_api("GET", "/proxies").json() == {}


ITEM = 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'  # Go's name of what /populate decodes


@pytest.mark.parametrize("body, message", [
    (b"", "bad request body: EOF"),
    (b"[{", "bad request body: unexpected EOF"),
    (b"{}", f"bad request body: json: cannot unmarshal object into Go value of type []{ITEM}"),
    (b'"x"', f"bad request body: json: cannot unmarshal string into Go value of type []{ITEM}"),
    (b"7", f"bad request body: json: cannot unmarshal number into Go value of type []{ITEM}"),
    (b"[true]", f"bad request body: json: cannot unmarshal bool into Go value of type {ITEM}"),
    # The item's struct is anonymous, so Go names a bad field ".name", not "Proxy.name".
    (b'[{"name": 5, "upstream": "x:1"}]',
     "bad request body: json: cannot unmarshal number into Go struct field .name of type string"),
    (b'[{"name": "a", "upstream": "x:1", "enabled": "yes"}]',
     "bad request body: json: cannot unmarshal string into Go struct field .enabled of type bool"),
    (b'[{"name": "a", "upstream": "x:1", "Logger": []}]',
     "bad request body: json: cannot unmarshal array into Go struct field .Logger of type zerolog.Logger"),
    # Go decodes the whole body before it checks a field: a type error anywhere comes first.
    (b'[{"upstream": "x:1"}, {"name": "b", "upstream": 9}]',
     "bad request body: json: cannot unmarshal number into Go struct field .upstream of type string"),
    (b'[{"name": "a", "upstream": "x:1"}, null]', "missing required field: name at proxy 2"),  # null: an empty item
])
def test_populate_rejects_bad_bodies_like_go(fresh_api, body, message) -> None:
    resp = fresh_api("POST", "/populate", raw=body)
    assert (resp.status_code, resp.headers["Content-Type"]) == (400, "application/json"), resp.text
    assert resp.text == json.dumps({"error": message, "status": 400, "proxies": None}, separators=(",", ":"))
    assert fresh_api("GET", "/proxies").json() == {}


def test_populate_validates_everything_before_creating_anything(fresh_api, echo_server) -> None:
    resp = fresh_api("POST", "/populate", [{"name": "ok", "upstream": echo_server.addr},
                                           {"name": "bad"}])
    assert resp.status_code == 400
    assert resp.json() == {"error": "missing required field: upstream at proxy 2", "status": 400,
                           "proxies": None}
    resp = fresh_api("POST", "/populate", {"name": "x"})
    assert resp.status_code == 400 and resp.json()["error"].startswith("bad request body: json: cannot unmarshal")
    assert fresh_api("GET", "/proxies").json() == {}


def test_populate_partial_failure_reports_what_was_created(fresh_api, echo_server) -> None:
    blocker = socket.create_server(("127.0.0.1", 0))
    taken = f"127.0.0.1:{blocker.getsockname()[1]}"
    with blocker:
        resp = fresh_api("POST", "/populate", [
            {"name": "first", "upstream": echo_server.addr, "listen": "127.0.0.1:0"},
            {"name": "second", "upstream": echo_server.addr, "listen": taken},
            {"name": "third", "upstream": echo_server.addr, "listen": "127.0.0.1:0"}])
    assert resp.status_code == 500
    body = resp.json()
    assert body["error"] == f"listen tcp {taken}: bind: address already in use" and body["status"] == 500
    assert [p["name"] for p in body["proxies"]] == ["first"]
    assert set(fresh_api("GET", "/proxies").json()) == {"first"}


def test_reset_enables_every_proxy_and_removes_every_toxic(fresh_api, echo_server) -> None:
    sink = Sink()
    upstream = TcpServer(sink)
    one = create(fresh_api, "one", upstream.addr)
    create(fresh_api, "two", echo_server.addr)
    fresh_api("POST", "/proxies/one/toxics", {"type": "timeout", "attributes": {"timeout": 0}})
    fresh_api("PATCH", "/proxies/two", {"enabled": False})
    sock = connect(one["listen"])
    sock.sendall(b"x")
    wait_for(lambda: len(sink) == 1, what="the connection to be through")
    resp = fresh_api("POST", "/reset")
    assert (resp.status_code, resp.text) == (204, "")
    state = fresh_api("GET", "/proxies").json()
    assert {n: (p["enabled"], p["toxics"]) for n, p in state.items()} == {"one": (True, []), "two": (True, [])}
    assert sock.recv(10) == b""  # removing a timeout toxic closes the connections it held
    with connect(state["two"]["listen"]) as again:
        round_trip(again)
    upstream.close()
