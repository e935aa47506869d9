"""``packet_loss``: whole chunks dropped, ``loss_rate`` of them, in bursts with ``correlation`` (upstream's newest).

First as a stage on its own (no sockets), then through our server's API and real sockets.
"""

from __future__ import annotations

import random

from chaos.toxiproxy.toxics import REGISTRY
from tests.chaos.toxiproxy.http_api import create, error
from tests.chaos.toxiproxy.sockets import recv_until_eof, round_trip
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage


def _fates(loss_rate: float, correlation: float, n: int = 4000, seed: int = 1) -> list[bool]:
    toxic = REGISTRY["packet_loss"](loss_rate=loss_rate, correlation=correlation)
    state = toxic.new_state()
    state.rng = random.Random(seed)
    return [toxic.drops(state) for _ in range(n)]


def test_by_default_nothing_is_lost_and_everything_is_lost_at_one() -> None:
    async def go(**attributes):
        t, stub = stage("packet_loss", **attributes)
        for data in (b"a", b"b", b"c"):
            stub.input.put(chunk(data))
        stub.input.put(None)
        await t.pipe(stub)
        return payloads(await drain(stub))

    assert run(lambda: go()) == [b"a", b"b", b"c", None]
    assert run(lambda: go(loss_rate=1.0)) == [None], "all dropped, and the end of stream still passes"
    assert run(lambda: go(loss_rate=7.0, correlation=-3.0)) == [None], "clamped to [0, 1]"


def test_loss_rate_is_the_share_of_chunks_dropped() -> None:
    fates = _fates(0.3, 0.0)
    assert 0.26 <= sum(fates) / len(fates) <= 0.34


def test_correlation_makes_the_losses_come_in_bursts() -> None:
    def mean_burst(fates: list[bool]) -> float:
        bursts, run_ = [], 0
        for dropped in fates:
            if dropped:
                run_ += 1
            elif run_:
                bursts.append(run_)
                run_ = 0
        return sum(bursts) / len(bursts)

    independent, bursty = _fates(0.2, 0.0), _fates(0.2, 0.6)
    assert mean_burst(independent) < 1.6            # 1 / (1 - 0.2) = 1.25 on average
    assert mean_burst(bursty) > 3.0                 # 1 / (1 - 0.8) = 5 on average
    assert all(_fates(0.1, 0.9, n=200, seed=3)[_fates(0.1, 0.9, n=200, seed=3).index(True):]), \
        "loss_rate + correlation = 1: once one is lost, all are"


def test_attributes_are_floats_named_as_upstream(api, echo_server) -> None:
    proxy = create(api, "lossy", echo_server.addr)["name"]
    resp = api("POST", f"/proxies/{proxy}/toxics", {"type": "packet_loss"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"name": "packet_loss_downstream", "type": "packet_loss", "stream": "downstream",
                           "toxicity": 1, "attributes": {"loss_rate": 0, "correlation": 0}}
    resp = api("POST", f"/proxies/{proxy}/toxics/packet_loss_downstream", {"attributes": {"loss_rate": 0.25}})
    assert resp.json()["attributes"] == {"loss_rate": 0.25, "correlation": 0}
    error(api("POST", f"/proxies/{proxy}/toxics", {"type": "packet_loss", "name": "x",
                                                   "attributes": {"correlation": "high"}}), 400,
          "bad request body: json: cannot unmarshal string into Go struct field "
          "PacketLossToxic.attributes.correlation of type float64")
    api("DELETE", f"/proxies/{proxy}")


def test_on_a_real_connection_lost_chunks_are_holes_not_retransmissions(make_link, conn_to) -> None:
    link = make_link()
    sock = conn_to(link)
    round_trip(sock)
    link.add_toxic("packet_loss", stream="downstream", attributes={"loss_rate": 1.0})
    sock.sendall(b"never comes back")
    sock.shutdown(1)
    assert recv_until_eof(sock) == b"", "the echo was dropped for good (TCP never knew), and the end still came"
