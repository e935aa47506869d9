"""The names of a topology's parts: said once, for the topology that starts them and the faults that hit them.

Processes are ``node{I}`` and ``gate{I}`` (and ``store``, the shared
PostgreSQL server); links (proxies) are ``client-NAME`` (a client → its
gate), ``gate{I}-node{J}`` and ``node{I}-store``. A fault target
(``chaos.target``) resolves to these names, and ``chaos.topology`` creates
its processes and proxies under them, so a fault finds what it hits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

#: The categories of parts a fault can act on.
LINK, PROCESS, CLIENT = "link", "process", "client"
#: A node or gate process name, as a regular expression (these processes write the logs the checker reads).
SERVER_PROCESS = r"(?:node|gate)\d+"


@dataclass(frozen=True)
class PartNames:
    """The names one topology gives its parts."""

    nodes: int
    gates: int
    clients: tuple[tuple[str, int], ...]  # (client name, gate index), in topology order
    store: bool = False  # a shared store process (PostgreSQL) with a link from every node

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

    def links(self) -> list[str]:
        """Every proxy the topology creates."""
        return [self.client_link(c) for c in self.client_names] + [
            self.gate_link(g, n) for g in range(self.gates) for n in range(self.nodes)] + (
            [self.store_link(n) for n in range(self.nodes)] if self.store else [])

    def processes(self) -> list[str]:
        return [self.node(i) for i in range(self.nodes)] + [self.gate(i) for i in range(self.gates)] + (
            [self.STORE] if self.store else [])
