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

if TYPE_CHECKING:
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
    if topology.gates != 1:
        out.append(("topology.gates", "goverse runs with one gate (every node's advertise address is its one proxy)"))
    for key, value, default in (("store", topology.store, ("sqlite", "memory")), ("auth", topology.auth, ("none",)),
                                ("network", topology.network, ("host",))):
        if value not in default:
            out.append((f"topology.{key}", f"{value!r} is pushchat's; goverse keeps rooms in its node's memory, "
                                           "with no tokens, on 127.0.0.1"))
    for key, present in (("tls", topology.tls), ("hostile", topology.hostile), ("limits", topology.limits),
                         ("load", topology.load)):
        if present:
            out.append((f"topology.{key}", f"{key} is pushchat's only: not available for system goverse"))
    missing = [room for room in topology.rooms if room not in ROOMS]
    if missing:
        out.append(("topology.rooms", f"goverse has only its default rooms ({', '.join(ROOMS)}), not "
                                      f"{', '.join(missing)}"))
    if workload.presence:
        out.append(("workload.presence", "goverse has no presence, typing or read receipts"))
    for kind in dict.fromkeys(kinds):
        why = refused_kind(kind)
        if why is not None:
            out.append(("faults", why))
    return out


def check(scenario: "Scenario") -> list[str]:
    """One line per thing ``scenario`` asks that Goverse cannot do (see :func:`refusals`)."""
    return [f"{where}: {why}" for where, why in refusals(scenario.topology, scenario.workload, scenario.kinds)]
