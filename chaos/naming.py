"""The names of a topology's parts: said once, for the topology that starts them and the faults that hit them.

Processes are ``node{I}`` and ``gate{I}`` (and ``store``, the shared
PostgreSQL server, and ``etcd{J}``, the members of the cluster's etcd);
links (proxies) are ``client-NAME`` (a client → its gate),
``gate{I}-node{J}``, ``node{I}-store``, and ``node{I}-etcd{J}`` /
``gate{I}-etcd{J}`` (each server to each etcd member). A fault target
(``chaos.faults.target``) resolves to these names, and ``chaos.topology`` creates
its processes and proxies under them, so a fault finds what it hits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

#: The categories of parts a fault can act on (SERVER: a node or gate from inside, through its fault points).
LINK, PROCESS, CLIENT, SERVER = "link", "process", "client", "server"
#: A node or gate process name, as a regular expression (these processes write the logs the checker reads).
SERVER_PROCESS = r"(?:node|gate)\d+"


@dataclass(frozen=True)
class PartNames:
    """The names one topology gives its parts."""

    nodes: int
    gates: int
    clients: tuple[tuple[str, int], ...]  # (client name, gate index), in topology order
    store: bool = False  # a shared store process (PostgreSQL) with a link from every node
    etcd: int = 0        # etcd members, each with a link from every node and every gate

    STORE: ClassVar[str] = "store"

    @property
    def client_names(self) -> list[str]:
        return [name for name, _ in self.clients]

    @staticmethod
    def node(i: int) -> str:
        return f"node{i}"

    @staticmethod
    def gate(i: int) -> str:
        return f"gate{i}"

    @staticmethod
    def client_link(name: str) -> str:
        return f"client-{name}"

    @staticmethod
    def gate_link(gate: int, node: int) -> str:
        return f"gate{gate}-node{node}"

    @staticmethod
    def store_link(node: int) -> str:
        return f"node{node}-store"

    @staticmethod
    def etcd_member(j: int) -> str:
        return f"etcd{j}"

    @staticmethod
    def etcd_link(server: str, member: int) -> str:
        """``server`` (``node0``, ``gate1``) → etcd member ``member``."""
        return f"{server}-etcd{member}"

    def servers(self) -> list[str]:
        return [self.node(i) for i in range(self.nodes)] + [self.gate(i) for i in range(self.gates)]

    def links(self) -> list[str]:
        """Every proxy the topology creates."""
        return [self.client_link(c) for c in self.client_names] + [
            self.gate_link(g, n) for g in range(self.gates) for n in range(self.nodes)] + (
            [self.store_link(n) for n in range(self.nodes)] if self.store else []) + [
            self.etcd_link(s, j) for s in self.servers() for j in range(self.etcd)]

    def processes(self) -> list[str]:
        return self.servers() + ([self.STORE] if self.store else []) + [self.etcd_member(j) for j in range(self.etcd)]

    def ends(self) -> dict[str, tuple[str, str]]:
        """Each link's two parts (client names, process names), for cutting a partition."""
        out = {self.client_link(c): (c, self.gate(g)) for c, g in self.clients}
        out.update({self.gate_link(g, n): (self.gate(g), self.node(n)) for g in range(self.gates)
                    for n in range(self.nodes)})
        if self.store:
            out.update({self.store_link(n): (self.node(n), self.STORE) for n in range(self.nodes)})
        out.update({self.etcd_link(s, j): (s, self.etcd_member(j)) for s in self.servers() for j in range(self.etcd)})
        return out
