"""A proxy's toxics: the parsing rules, then ``/proxies/{name}/toxics`` through raw HTTP."""

from __future__ import annotations

import pytest

from chaos.toxiproxy.decode import ApiError
from chaos.toxiproxy.toxicset import ToxicSpec, parse_toxic, parse_toxic_update
from tests.chaos.toxiproxy.http_api import create, error


def test_toxic_parsing_order_and_update_merge() -> None:
    with pytest.raises(ApiError, match="stream was invalid"):
        parse_toxic({"type": "nope", "stream": "x"}, lambda n: False)
    with pytest.raises(ApiError, match="invalid toxic type"):
        parse_toxic({"type": "nope"}, lambda n: True)
    with pytest.raises(ApiError, match="toxic already exists"):
        parse_toxic({"type": "latency", "attributes": {"latency": "x"}}, lambda n: True)
    spec = parse_toxic({"type": "latency", "stream": "Upstream", "attributes": {"latency": 5}}, lambda n: False)
    assert isinstance(spec, ToxicSpec) and (spec.name, spec.direction) == ("latency_Upstream", 0)
    toxic_, toxicity = parse_toxic_update(spec, {"attributes": {"jitter": 2}})
    assert toxic_.attributes() == {"latency": 5, "jitter": 2} and toxicity == 1.0


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
