"""Membership on a real etcd: a member's key lives with its lease, watchers follow it through etcd outages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from chaos.infra.etcd import EtcdCluster
from system.membership import MemberSet, Membership, prefix_end
from tests.system.system_harness import capture_logs, wait_until


@pytest.fixture
def etcd() -> Iterator[EtcdCluster]:
    with EtcdCluster(1) as cluster:
        yield cluster


@pytest.fixture
def etcd3() -> Iterator[EtcdCluster]:
    with EtcdCluster(3) as cluster:
        yield cluster


def test_member_set_follows_a_listing_and_then_events() -> None:
    s = MemberSet("/p/nodes/")
    assert s.reset([(b"/p/nodes/a", b"a"), (b"/p/nodes/b", b"b"), (b"/p/gates/g", b"g")], 7)
    assert set(s.members) == {"a", "b"} and s.revision == 7
    assert not s.apply([("PUT", b"/p/nodes/a", b"a2", 8)]), "a value change is not a membership change"
    assert s.apply([("DELETE", b"/p/nodes/b", b"", 9), ("PUT", b"/p/nodes/c", b"c", 9)])
    assert set(s.members) == {"a", "c"} and s.revision == 9
    assert prefix_end(b"/p/nodes/") == b"/p/nodes0" and prefix_end(b"a\xff") == b"b"


async def test_members_come_and_go_a_clean_stop_at_once_a_dead_one_at_its_ttl(etcd: EtcdCluster) -> None:
    watcher = Membership(etcd.endpoints, name="gate0", role="gates", watch="nodes", ttl=2)
    a = Membership(etcd.endpoints, name="10.0.0.1:1", role="nodes", ttl=2)
    b = Membership(etcd.endpoints, name="10.0.0.2:1", role="nodes", ttl=2)
    await watcher.start()
    await a.start()
    await b.start()
    try:
        await watcher.wait_for(lambda m: m == {"10.0.0.1:1", "10.0.0.2:1"}, 5)
        await a.wait_for(lambda m: m == {"10.0.0.1:1", "10.0.0.2:1"}, 5)  # a member watches the others too
        assert a.registered and b.registered
        await a.stop(revoke=True)  # clean: the key goes now, not at the TTL
        await watcher.wait_for(lambda m: m == {"10.0.0.2:1"}, 1.5)
        await b.stop(revoke=False)  # as if the process died: the lease runs out
        await watcher.wait_for(lambda m: m == set(), 2 * 2 + 2)
    finally:
        for m in (watcher, a, b):
            await m.stop()


async def test_cut_off_from_etcd_a_member_knows_it_is_out_and_comes_back_with_etcd(etcd: EtcdCluster) -> None:
    node = Membership(etcd.endpoints, name="10.0.0.1:1", role="nodes", ttl=2, timeout=0.5)
    await node.start()
    try:
        assert node.registered
        await asyncio.to_thread(etcd.kill, 0)
        await wait_until(lambda: not node.registered, 2 + 2, "the node to count itself out")
        await wait_until(lambda: node.lost_count == 1, 2, "the node to log that its registration lapsed")
        await asyncio.to_thread(etcd.restart, 0)
        await wait_until(lambda: node.registered and node.members() == {"10.0.0.1:1"}, 15,
                         "the node to register again and be listed")
    finally:
        await node.stop()


async def test_with_three_etcd_members_one_can_die_unnoticed(etcd3: EtcdCluster) -> None:
    node = Membership(etcd3.endpoints, name="10.0.0.1:1", role="nodes", ttl=2, timeout=0.5)
    watcher = Membership(etcd3.endpoints, name="gate0", role=None)
    await node.start()
    await watcher.start()
    try:
        await watcher.wait_for(lambda m: m == {"10.0.0.1:1"}, 5)
        await asyncio.to_thread(etcd3.kill, 1)
        stop = asyncio.get_running_loop().time() + 3 * 2  # three TTLs: the lease must have been renewed
        while asyncio.get_running_loop().time() < stop:
            assert node.registered and watcher.members() == {"10.0.0.1:1"}
            await asyncio.sleep(0.1)  # sampling the state over time is the point of this test
        assert node.lost_count == 0
    finally:
        await node.stop()
        await watcher.stop()


async def test_a_lease_shorter_than_etcd_grants_is_said_once_with_what_etcd_gave(etcd: EtcdCluster) -> None:
    """etcd's floor is 1.5 election timeouts (1 s here), rounded up: asking for 1 s gets 2 s, and a warning."""
    member = Membership(etcd.endpoints, name="10.0.0.9:1", role="nodes", ttl=1)
    with capture_logs() as logs:
        await member.start()
        await member.stop()
    raised = logs.events("membership_ttl_raised")
    assert [(r["asked"], r["granted"], r["level"]) for r in raised] == [(1, 2, "WARNING")]
    assert [r["ttl"] for r in logs.events("membership_registered")] == [2]
