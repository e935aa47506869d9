"""Fault kinds below TCP: nftables rules in the servers' own network namespaces (``chaos.infra.netns``).

A proxy keeps both TCP connections healthy as far as the kernel can tell;
these kinds do not: they drop packets, so a connection is left half-open,
one direction of a flow goes silent, or TCP retransmits. They need the
topology's ``network: namespaces`` (a scenario using one turns it on).

A link's rules go in the namespace of the part that dials it (a gate for
``gate I -> node J``, a node for ``node I -> store``), matched on the
proxy it dials, so they cut that link only. ``upstream`` is what the
dialler sends, ``downstream`` what comes back to it, as for the toxics.
Each rule set is one nftables table per fault and namespace, deleted at
heal; what was loaded where is recorded in the history (``f: net``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

from chaos.faults.kinds import FaultKind, Param, Parts, Undo, register
from chaos.naming import LINK, PROCESS

if TYPE_CHECKING:  # type only: a Fault is made of a kind (fault.py imports the kinds)
    from chaos.faults.fault import Fault


def table_name(fault_id: int, part: str) -> str:
    """The nftables table one fault loads for one part it hits (a link, a server): its own, so each heals alone
    even where a namespace dials several of the links hit (``gate0-node0``, ``gate0-node1``)."""
    return f"pushchat_fault{fault_id}_" + re.sub(r"[^A-Za-z0-9]", "_", part)


NEEDS = "namespaces"  # what the topology must be started with for these kinds
ONE_WAY = ("upstream", "downstream")


class NetFaults(Protocol):
    """The running topology's side (``chaos.topology.Topology``): each returns what it loaded, and where."""

    async def net_drop_link(self, link: str, stream: str, percent: float, table: str) -> dict[str, Any]: ...
    async def net_isolate(self, server: str, table: str) -> dict[str, Any]: ...
    async def net_heal(self, loaded: dict[str, Any]) -> int: ...  # the packets it dropped


def _net(parts: Parts) -> NetFaults:
    net = parts.processes
    if not getattr(net, "network", None):
        raise RuntimeError("IP-layer faults need the topology's network: namespaces")
    return net  # type: ignore[return-value]


def _record(parts: Parts, fault: "Fault", phase: str, loaded: dict[str, Any]) -> None:
    history = getattr(parts, "history", None)
    if history is not None:
        history.info(getattr(parts, "process", "nemesis"), "net",
                     {"fault": fault.kind, "id": fault.id, "phase": phase, **loaded})


def _undo(parts: Parts, net: NetFaults, fault: "Fault", loaded: dict[str, Any]) -> Undo:
    async def heal() -> None:
        dropped = await net.net_heal(loaded)
        _record(parts, fault, "removed", {**loaded, "dropped_packets": dropped})
    return heal


def link_drop(name: str, *, percent: float | Param, stream: str | Param, target: str | None = None) -> FaultKind:
    """Drop the packets of one link: ``stream`` and ``percent`` fixed, or (a ``Param``) the fault's parameters."""
    params = {key: value for key, value in (("percent", percent), ("stream", stream)) if isinstance(value, Param)}

    async def apply(parts: Parts, part: str, fault: "Fault", undo: list[Undo]) -> None:
        net = _net(parts)
        loaded = await net.net_drop_link(part, fault.params.get("stream", stream), fault.params.get("percent", percent),
                                         table_name(fault.id, part))
        undo.append(_undo(parts, net, fault, loaded))
        _record(parts, fault, "loaded", loaded)

    return FaultKind(name, LINK, apply, params, target=target, needs=NEEDS)


async def _isolate(parts: Parts, part: str, fault: "Fault", undo: list[Undo]) -> None:
    net = _net(parts)
    loaded = await net.net_isolate(part, table_name(fault.id, part))
    undo.append(_undo(parts, net, fault, loaded))
    _record(parts, fault, "loaded", loaded)


# every link across the groups, both directions, silently
register(link_drop("net_partition", stream="both", percent=100, target="partition"))
# one direction of a link: the other still flows (a half-open connection)
register(link_drop("net_drop_one_way", percent=100, stream=Param("downstream", str, ONE_WAY)))
# a random share of a link's packets (TCP retransmits them)
register(link_drop("net_packet_loss", percent=Param(10, int, minimum=1, maximum=100),
                   stream=Param("both", str, ("both", *ONE_WAY))))
# everything to and from a server, but its own loopback: its connections are left half-open
register(FaultKind("net_blackhole", PROCESS, _isolate, needs=NEEDS,
                   scopes=("node", "nodes", "gate", "gates", "store", "etcd_member", "etcd_members")))
