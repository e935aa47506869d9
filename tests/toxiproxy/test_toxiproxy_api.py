"""Conformance of the HTTP API, through raw HTTP: paths, codes, bodies, headers (spec: toxiproxy-api.md)."""

from __future__ import annotations

import json
import socket

import pytest

from chaos.links import Links
from toxiproxy_helpers import Sink, TcpServer, connect, round_trip, wait_for

TEXT = "text/plain; charset=utf-8"


def error(resp, status: int, message: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n"


def create(api, name: str, upstream: str, **extra):
    resp = api("POST", "/proxies", {"name": name, "upstream": upstream, "listen": "127.0.0.1:0", **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


# -- requests in general --------------------------------------------------------------------------
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


# -- proxies ------------------------------------------------------------------------------------------
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


# -- toxics ----------------------------------------------------------------------------------------------
def test_toxic_create_is_200_with_defaults_and_default_name(api, name, echo_server) -> None:
    create(api, name, echo_server.addr)
    resp = api("POST", f"/proxies/{name}/toxics", {"type": "latency", "attributes": {"latency": 10, "bogus": 1}})
    assert resp.status_code == 200
    assert resp.json() == {"attributes": {"latency": 10, "jitter": 0}, "name": "latency_downstream",
                           "type": "latency", "stream": "downstream", "toxicity": 1}
    shouting = api("POST", f"/proxies/{name}/toxics", {"type": "slow_close", "stream": "UPSTREAM",
                                                        "toxicity": 0.5}).json()
    assert shouting == {"attributes": {"delay": 0}, "name": "slow_close_UPSTREAM", "type": "slow_close",
                        "stream": "UPSTREAM", "toxicity": 0.5}
    noop = api("POST", f"/proxies/{name}/toxics", {"type": "noop", "name": "n"}).json()
    assert noop["attributes"] == {}
    api("DELETE", f"/proxies/{name}")


def test_each_standard_toxic_reports_its_attributes(api, name, echo_server) -> None:
    create(api, name, echo_server.addr)
    expected = {
        "latency": {"latency": 0, "jitter": 0}, "bandwidth": {"rate": 0}, "slow_close": {"delay": 0},
        "timeout": {"timeout": 0}, "reset_peer": {"timeout": 0}, "limit_data": {"bytes": 0},
        "slicer": {"average_size": 0, "size_variation": 0, "delay": 0}, "noop": {},
    }
    for type_, attributes in expected.items():
        resp = api("POST", f"/proxies/{name}/toxics", {"type": type_, "stream": "upstream", "toxicity": 0})
        assert resp.json()["attributes"] == attributes, type_
    api("DELETE", f"/proxies/{name}")


def test_toxic_index_lists_upstream_first_then_downstream_in_order(api, name, echo_server) -> None:
    create(api, name, echo_server.addr)
    for toxic, stream in [("d1", "downstream"), ("u1", "upstream"), ("d2", "downstream"), ("u2", "upstream")]:
        api("POST", f"/proxies/{name}/toxics", {"type": "noop", "name": toxic, "stream": stream})
    resp = api("GET", f"/proxies/{name}/toxics")
    assert [t["name"] for t in resp.json()] == ["u1", "u2", "d1", "d2"]
    assert [t["name"] for t in api("GET", f"/proxies/{name}").json()["toxics"]] == ["u1", "u2", "d1", "d2"]
    api("DELETE", f"/proxies/{name}")
    error(api("GET", f"/proxies/{name}/toxics"), 404, "proxy not found")


@pytest.mark.parametrize("body, status, message", [
    ({"type": "nope"}, 400, "invalid toxic type"),
    ({"attributes": {}}, 400, "invalid toxic type"),
    ({"type": "latency", "stream": "sideways"}, 400,
     "stream was invalid, can be either upstream or downstream"),
    ({"type": "latency", "attributes": {"latency": "slow"}}, 400,
     "bad request body: json: cannot unmarshal string into Go struct field LatencyToxic.attributes.latency "
     "of type int64"),
    ({"type": "latency", "attributes": {"latency": 1.5}}, 400,
     "bad request body: json: cannot unmarshal number 1.5 into Go struct field LatencyToxic.attributes.latency "
     "of type int64"),
    ({"type": "latency", "toxicity": "all"}, 400,
     "bad request body: json: cannot unmarshal string into Go struct field ToxicWrapper.toxicity of type "
     "float32"),
    # Go's own type names: the wrapper, the NoopToxic its attributes start as, each toxic's struct.
    ([], 400, "bad request body: json: cannot unmarshal array into Go value of type toxics.ToxicWrapper"),
    ({"type": "latency", "attributes": 5}, 400,
     "bad request body: json: cannot unmarshal number into Go struct field ToxicWrapper.attributes of type "
     "toxics.NoopToxic"),
    ({"type": "reset_peer", "attributes": {"timeout": "soon"}}, 400,
     "bad request body: json: cannot unmarshal string into Go struct field ResetToxic.attributes.timeout "
     "of type int64"),
    ({"type": "slicer", "attributes": {"average_size": True}}, 400,
     "bad request body: json: cannot unmarshal bool into Go struct field SlicerToxic.attributes.average_size "
     "of type int64"),
])
def test_toxic_create_rejects_bad_bodies(api, name, echo_server, body, status, message) -> None:
    create(api, name, echo_server.addr)
    error(api("POST", f"/proxies/{name}/toxics", body), status, message)
    error(api("POST", f"/proxies/{name}/toxics", raw=b"nope"), 400,
          "bad request body: invalid character 'n' looking for beginning of value")
    assert api("GET", f"/proxies/{name}/toxics").json() == []
    api("DELETE", f"/proxies/{name}")


def test_toxic_names_are_unique_across_streams(api, name, echo_server) -> None:
    create(api, name, echo_server.addr)
    api("POST", f"/proxies/{name}/toxics", {"type": "latency", "name": "lag"})
    error(api("POST", f"/proxies/{name}/toxics", {"type": "latency", "name": "lag", "stream": "upstream"}),
          409, "toxic already exists")
    error(api("POST", "/proxies/missing/toxics", {"type": "latency"}), 404, "proxy not found")
    api("DELETE", f"/proxies/{name}")


def test_toxic_show_update_delete(api, name, echo_server) -> None:
    create(api, name, echo_server.addr)
    api("POST", f"/proxies/{name}/toxics", {"type": "latency", "stream": "upstream",
                                             "attributes": {"latency": 100, "jitter": 5}})
    shown = api("GET", f"/proxies/{name}/toxics/latency_upstream")
    assert shown.status_code == 200 and shown.json()["attributes"] == {"latency": 100, "jitter": 5}
    updated = api("PATCH", f"/proxies/{name}/toxics/latency_upstream",
                  {"attributes": {"jitter": 7}, "toxicity": 0.25, "name": "ignored", "stream": "downstream"})
    assert updated.status_code == 200
    assert updated.json() == {"attributes": {"latency": 100, "jitter": 7}, "name": "latency_upstream",
                              "type": "latency", "stream": "upstream", "toxicity": 0.25}
    assert api("POST", f"/proxies/{name}/toxics/latency_upstream", {}).json() == updated.json()
    error(api("PATCH", f"/proxies/{name}/toxics/latency_upstream", {"attributes": {"latency": "x"}}), 400,
          "bad request body: json: cannot unmarshal string into Go struct field LatencyToxic.attributes.latency "
          "of type int64")
    # An update body is decoded into an anonymous struct: Go names its fields ".toxicity", ".attributes".
    update_type = 'struct { Attributes interface {} "json:\\"attributes\\""; Toxicity float32 "json:\\"toxicity\\"" }'
    for body, message in [
            ([], f"json: cannot unmarshal array into Go value of type {update_type}"),
            ({"toxicity": "x"}, "json: cannot unmarshal string into Go struct field .toxicity of type float32"),
            ({"attributes": [1]},
             "json: cannot unmarshal array into Go struct field .attributes of type toxics.LatencyToxic")]:
        error(api("PATCH", f"/proxies/{name}/toxics/latency_upstream", body), 400, f"bad request body: {message}")
    assert api("GET", f"/proxies/{name}/toxics/latency_upstream").json() == updated.json()
    error(api("PATCH", f"/proxies/{name}/toxics/nope", {}), 404, "toxic not found")
    error(api("GET", f"/proxies/{name}/toxics/nope"), 404, "toxic not found")
    resp = api("DELETE", f"/proxies/{name}/toxics/latency_upstream")
    assert (resp.status_code, resp.text) == (204, "")
    error(api("DELETE", f"/proxies/{name}/toxics/latency_upstream"), 404, "toxic not found")
    error(api("GET", "/proxies/missing/toxics/x"), 404, "proxy not found")
    api("DELETE", f"/proxies/{name}")


# -- populate and reset ------------------------------------------------------------------------------------
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


# -- metrics, config --------------------------------------------------------------------------------------
def test_metrics_only_when_enabled(api, tmp_path, echo_server) -> None:
    assert api("GET", "/metrics").status_code == 404
    with Links.embedded(log_file=tmp_path / "m.log", args=["--metrics"]) as links:
        link = links.create("m", echo_server.addr)
        with connect(link.listen) as sock:
            round_trip(sock, b"12345")
        resp = links.request("GET", "/metrics", "metrics")
        assert resp.headers["Content-Type"].startswith("text/plain")
        # The real server's /metrics route names no method: any method gets the metrics.
        posted = links.request("POST", "/metrics", "metrics")
        assert posted.status_code == 200 and "toxiproxy_proxy_received_bytes_total" in posted.text
        lines = resp.text.splitlines()
        for metric in ("toxiproxy_proxy_received_bytes_total", "toxiproxy_proxy_sent_bytes_total"):
            row = next(line for line in lines if line.startswith(metric) and 'direction="upstream"' in line)
            assert 'proxy="m"' in row and float(row.rsplit(" ", 1)[1]) == 5


def test_config_file_populates_at_start(tmp_path, echo_server) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "from-file", "upstream": echo_server.addr, "listen": "127.0.0.1:0"}]))
    with Links.embedded(log_file=tmp_path / "c.log", args=["--config", str(config)]) as links:
        link = links.get("from-file")
        with connect(link.listen) as sock:
            round_trip(sock)
    wait_for(lambda: '"config_loaded"' in (tmp_path / "c.log").read_text(), what="config log line")
