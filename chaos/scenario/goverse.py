"""Which scenarios can run against Goverse, and what in one cannot (pure).

Goverse's chat sample (node ``samples/chat/server``, gate ``cmd/gate``) has
none of what exists only inside our servers: fault points (``push_drop``,
``rpc_abort``, ``store_fail``, … act through ``system.faultpoints``), a
clock libfaketime can move (Go reads the time without libc), stores,
tokens, TLS, gate limits, presence. Each such use is named in one line, so
a ``--system goverse`` run of a scenario that needs one is refused before
anything starts. Process faults (kill, pause, restart, crash), link faults
and a client's ``stop_reading`` work the same as for pushchat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.faults.kinds import KINDS
from chaos.naming import SERVER

if TYPE_CHECKING:  # type only: the model asks this module what Goverse cannot run (Scenario.for_system)
    from chaos.scenario.model import Scenario, TopologySpec, Workload

GOVERSE = "goverse"
#: Goverse's default rooms (its ChatRoomMgr creates them); a scenario's rooms must be among them.
ROOMS: tuple[str, ...] = ("General", "Technology", "Crypto", "Sports", "Movies")


def refused_kind(kind: str) -> str | None:
    """Why fault kind ``kind`` cannot act on Goverse, or None when it can."""
    spec = KINDS.get(kind)
    if spec is None:
        return None  # an unknown kind is the scenario file's complaint, not ours
    if spec.applies_to == SERVER:
        what = "moves a server's clock with libfaketime, which Go's runtime does not read" if spec.needs == "faketime" \
            else "acts through pushchat's in-process fault points, which Goverse has not"
        return f"fault kind {kind!r} {what}: not available for system goverse"
    if spec.needs == "namespaces":
        return f"fault kind {kind!r} needs the servers in network namespaces, which the goverse topology does not " \
               "set up: not available for system goverse"
    return None


def refusals(topology: "TopologySpec", workload: "Workload", kinds: list[str]) -> list[tuple[str, str]]:
    """(field, why) for everything in a scenario that Goverse cannot run; empty when it can run it all."""
    out: list[tuple[str, str]] = []
    for key, value, default in (("auth", topology.auth, ("none",)), ("network", topology.network, ("host",))):
        if value not in default:
            out.append((f"topology.{key}", f"{value!r} is pushchat's; goverse runs with no tokens, on 127.0.0.1"))
    for key, present in (("tls", topology.tls), ("hostile", topology.hostile), ("limits", topology.limits),
                         ("load", topology.load)):
        if present:
            out.append((f"topology.{key}", f"{key} is pushchat's only: not available for system goverse"))
    missing = [room for room in topology.rooms if room not in ROOMS]
    if missing:
        out.append(("topology.rooms", f"goverse has only its default rooms ({', '.join(ROOMS)}), not "
                                      f"{', '.join(missing)}"))
    if workload.presence or workload.stale_readers:
        key = "workload.presence" if workload.presence else "workload.stale_readers"
        out.append((key, "goverse has no presence, typing or read receipts"))
    for kind in dict.fromkeys(kinds):
        why = refused_kind(kind)
        if why is not None:
            out.append(("faults", why))
    return out


def shared_links(scenario: "Scenario", seed: int | None = None) -> list[tuple[str, str]]:
    """(field, why) for each fault on a part the goverse topology has not as the target names it: the store (a
    scenario's ``store`` is pushchat's; Goverse has none), and a gate's link to a node when there are several
    gates (a Goverse node has one advertise address, so node J's proxy is every gate's way to it, and the other
    nodes': a fault there would hit them all, not the one link the target names)."""
    names = scenario.topology.names()
    shared = {names.gate_link(g, n) for g in range(names.gates) for n in range(names.nodes)} \
        if names.gates > 1 else set()
    store = ({names.STORE} | {names.store_link(n) for n in range(names.nodes)}) if names.store else set()
    out = []
    for fault in scenario.schedule(seed):
        parts = set(fault.names(names))
        if parts & store:  # a scenario's store is pushchat's: Goverse's rooms live in its nodes' memory
            out.append(("faults", f"{fault.kind} on {fault.target} acts on the store, which goverse has not (its "
                                  "rooms live in its nodes' memory): not available for system goverse"))
        hit = sorted(parts & shared)
        if hit:
            out.append(("faults", f"{fault.kind} on {fault.target} acts on {', '.join(hit)}: with several gates, "
                                  "each Goverse node is behind one proxy that every gate dials (its advertise "
                                  "address), so a gate's own link to a node cannot be cut apart: not available "
                                  "for system goverse"))
    return out


def check(scenario: "Scenario") -> list[str]:
    """One line per thing ``scenario`` asks that Goverse cannot do (see :func:`refusals`, :func:`shared_links`)."""
    found = refusals(scenario.topology, scenario.workload, scenario.kinds)
    return [f"{where}: {why}" for where, why in found + (shared_links(scenario) if not found else [])]
