"""The fault control endpoint: off by default, loopback only, one-line errors, and faults that really happen."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from system.faultcontrol import check_address
from system.listen import CannotListen
from tests.system.cli_process import Proc, run
from tests.system.system_harness import capture_logs, cluster, wait_until

ON = {"fault_control": "127.0.0.1:0"}


def url(server, path: str = "/faults") -> str:  # type: ignore[no-untyped-def]
    return f"http://127.0.0.1:{server.fault_control.port}{path}"


async def test_the_endpoint_sets_lists_and_clears_faults_and_refuses_bad_ones_in_one_line() -> None:
    async with cluster(node=ON, gate=ON) as c, aiohttp.ClientSession() as http:
        node = c.nodes[0]
        async with http.post(url(node), data="{not json", headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400 and "not JSON" in (await r.json())["error"]
        async with http.post(url(node), json={"id": "x", "point": "push", "action": "explode"}) as r:
            body = await r.json()
            assert r.status == 400 and body == {"error": "a push fault's action is one of drop, duplicate, reorder, "
                                                         "delay, not 'explode'"}
        spec = {"id": "d1", "point": "push", "action": "duplicate", "percent": 50, "room": "General"}
        async with http.post(url(node), json=spec) as r:
            assert r.status == 201 and (await r.json())["percent"] == 50.0
        async with http.post(url(node), json=spec) as r:
            assert r.status == 400 and "set already" in (await r.json())["error"]
        async with http.get(url(node)) as r:
            assert [f["id"] for f in (await r.json())["faults"]] == ["d1"]
        async with http.delete(url(node, "/faults/d1")) as r:
            assert r.status == 204
        async with http.delete(url(node, "/faults/d1")) as r:
            assert r.status == 404
        async with http.delete(url(node)) as r:
            assert r.status == 204
        # the node kept serving through all that
        alice, _ = await c.client("alice")
        await alice.join("General")
        assert (await alice.send("General", "still here")).seq >= 1


async def test_duplicated_pushes_at_the_gate_are_shown_once_and_counted() -> None:
    async with cluster(node=ON, gate=ON) as c, aiohttp.ClientSession() as http:
        alice, _ = await c.client("alice")
        bob, seen = await c.client("bob")
        for client in (alice, bob):
            await client.join("General")
        async with http.post(url(c.gates[0]), json={"id": "dup", "point": "push", "action": "duplicate",
                                                   "client": "bob"}) as r:
            assert r.status == 201, await r.text()
        with capture_logs() as logs:
            for i in range(5):
                await alice.send("General", f"m{i}")
            await wait_until(lambda: len(seen.pushes) == 10, 10, "every push arrived twice")
        assert seen.texts() == [f"m{i}" for i in range(5)], "shown once each, in order"
        lines = logs.events("fault_injected")
        assert len(lines) == 5 and {line["user"] for line in lines} == {"bob"}
        counted = c.gates[0].metrics.snapshot()
        assert "pushchat_faults_injected_total" in counted


async def test_an_aborted_send_is_retried_and_stored_once() -> None:
    async with cluster(node=ON, gate=ON) as c, aiohttp.ClientSession() as http:
        alice, _ = await c.client("alice")
        await alice.join("General")
        # the node stores the message, then the reply is lost as UNAVAILABLE: the client must retry the same id
        async with http.post(url(c.nodes[0]), json={"id": "ab", "point": "rpc", "action": "abort",
                                                   "method": "SendMessage", "when": "after",
                                                   "max_active_faults": 0, "percent": 100}) as r:
            assert r.status == 201
        with capture_logs() as logs:
            task = asyncio.ensure_future(alice.send("General", "once", client_msg_id="m-1"))
            await wait_until(lambda: len(logs.events("fault_injected")) >= 2, 30, "two aborted attempts")
            async with http.delete(url(c.nodes[0], "/faults/ab")) as r:
                assert r.status == 204
            result = await asyncio.wait_for(task, 30)
        assert result.duplicate, "the retry found the stored message"
        reader, _ = await c.client("reader")
        held = await reader.poll("General")
        assert [m.client_msg_id for m in held.messages] == ["m-1"], "stored once"


ABORT_SENDS = {"id": "evil", "point": "rpc", "action": "abort", "method": "SendMessage", "percent": 100,
               "max_active_faults": 0}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


async def test_a_cross_site_browser_post_is_refused_and_chat_keeps_working() -> None:
    async with cluster(node=ON, gate=ON) as c, aiohttp.ClientSession() as http:
        alice, _ = await c.client("alice")
        await alice.join("General")
        node = c.nodes[0]
        # what a page on evil.example makes the operator's browser send: a form's text/plain POST
        form = {"Content-Type": "text/plain", "Origin": "http://evil.example", "User-Agent": BROWSER}
        async with http.post(url(node), data=json.dumps(ABORT_SENDS), headers=form) as r:
            assert r.status == 403 and "User agent not allowed" in (await r.json())["error"]
        async with http.get(url(node), headers={"User-Agent": BROWSER}) as r:  # browsers may not even look
            assert r.status == 403
        # each of the rule's parts on its own, as a program that is not a browser could still be tricked
        async with http.post(url(node), data=json.dumps(ABORT_SENDS),
                             headers={"Content-Type": "application/json", "Origin": "http://evil.example"}) as r:
            assert r.status == 403 and "'http://evil.example' is not this endpoint's own" in (await r.json())["error"]
        async with http.post(url(node), data=json.dumps(ABORT_SENDS), headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 415 and "needs Content-Type: application/json; not 'text/plain'" in \
                (await r.json())["error"]
        async with http.post(url(node), data=json.dumps(ABORT_SENDS), skip_auto_headers=["Content-Type"]) as r:
            assert r.status == 415 and "none was given" in (await r.json())["error"]
        async with http.delete(url(node), data="x", headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 415
        async with http.get(url(node)) as r:
            assert await r.json() == {"faults": [], "active": 0}
        assert (await alice.send("General", "still fine")).seq >= 1
        # the endpoint's own origin, and the harness's plain JSON requests, still work
        own = f"http://127.0.0.1:{node.fault_control.port}"
        async with http.post(url(node), json={**ABORT_SENDS, "id": "mine", "percent": 0},
                             headers={"Origin": own}) as r:
            assert r.status == 201
        async with http.delete(url(node, "/faults/mine")) as r:
            assert r.status == 204


async def test_an_oversized_or_unreadable_body_length_is_refused_and_the_endpoint_keeps_serving() -> None:
    async with cluster(node=ON, gate=ON) as c, aiohttp.ClientSession() as http:
        gate = c.gates[0]
        async with http.post(url(gate), data=b"{" + b" " * 70000 + b"}",
                             headers={"Content-Type": "application/json"}) as r:
            assert r.status == 413 and "Content-Length" in (await r.json())["error"]
        async with http.get(url(gate)) as r:
            assert r.status == 200


def test_only_a_loopback_address_may_control_faults() -> None:
    assert check_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert check_address("[::1]:0") == ("::1", 0)
    with pytest.raises(CannotListen, match="loopback address only"):
        check_address("0.0.0.0:7000")


async def test_the_flag_is_off_by_default_and_its_port_is_announced() -> None:
    plain = await Proc.start("node", "--listen", "127.0.0.1:0", "--store", "memory")
    try:
        assert "fault_control_port" not in await plain.announce()
    finally:
        await plain.finish()
    node = await Proc.start("node", "--listen", "127.0.0.1:0", "--store", "memory", "--fault-control", "127.0.0.1:0")
    try:
        port = (await node.announce())["fault_control_port"]
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/faults") as r:
            assert await r.json() == {"faults": [], "active": 0}
    finally:
        await node.finish()
    refused = await run("gate", "--fault-control", "0.0.0.0:0")
    assert refused.code == 64  # a usage error
    assert any("--fault-control" in line and "loopback address only" in line for line in refused.stderr), \
        refused.stderr
    assert json.dumps(refused.stdout) == "[]"
