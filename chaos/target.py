"""Fault targets in words (``client bob``, ``gate 0 -> node 1``, ``all nodes``), resolved to part names.

A target is read once (:func:`parse_target`), checked against a topology
(:func:`expand`: the single parts a group covers, or why it names no part
there) and turned into the proxy, process or client names of
``chaos.naming`` (:func:`concrete_name`). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chaos.kinds import FaultError
from chaos.naming import CLIENT, LINK, PROCESS, PartNames

# scope -> (pattern, categories it can serve)
_SCOPES: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "client": (re.compile(r"(?i:client)\s+(?P<name>[A-Za-z][A-Za-z0-9_-]*)"), (LINK, CLIENT)),
    "clients": (re.compile(r"(?i:all\s+clients)"), (LINK, CLIENT)),
    "client_links": (re.compile(r"(?i:all\s+client\s+links)"), (LINK,)),
    "gate_link": (re.compile(r"(?i:gate)\s*(?P<gate>\d+)\s*(?:->|→)\s*(?i:node)\s*(?P<node>\d+)"), (LINK,)),
    "store_link": (re.compile(r"(?i:node)\s*(?P<node>\d+)\s*(?:->|→)\s*(?i:store)"), (LINK,)),
    "store_links": (re.compile(r"(?i:all\s+store\s+links)"), (LINK,)),
    "store": (re.compile(r"(?i:store)"), (PROCESS,)),
    "gate_links": (re.compile(r"(?i:all\s+gate\s+links)"), (LINK,)),
    "links": (re.compile(r"(?i:all\s+links)"), (LINK,)),
    "node": (re.compile(r"(?i:node)\s*(?P<node>\d+)"), (PROCESS,)),
    "gate": (re.compile(r"(?i:gate)\s*(?P<gate>\d+)"), (PROCESS,)),
    "nodes": (re.compile(r"(?i:all\s+nodes)"), (PROCESS,)),
    "gates": (re.compile(r"(?i:all\s+gates)"), (PROCESS,)),
}
_FORMS = {"client": "client NAME", "clients": "all clients", "client_links": "all client links",
          "gate_link": "gate I -> node J", "store_link": "node I -> store", "store_links": "all store links",
          "store": "store", "gate_links": "all gate links", "links": "all links",
          "node": "node I", "gate": "gate I", "nodes": "all nodes", "gates": "all gates"}
TARGET_FORMS: tuple[str, ...] = tuple(_FORMS.values())


@dataclass(frozen=True)
class Target:
    """A parsed target; ``str()`` gives its canonical text."""

    scope: str
    name: str = ""
    gate: int = -1
    node: int = -1

    def __str__(self) -> str:
        return {
            "client": f"client {self.name}", "clients": "all clients",
            "client_links": "all client links", "gate_link": f"gate {self.gate} -> node {self.node}",
            "store_link": f"node {self.node} -> store", "store_links": "all store links", "store": "store",
            "gate_links": "all gate links", "links": "all links", "node": f"node {self.node}",
            "gate": f"gate {self.gate}", "nodes": "all nodes", "gates": "all gates",
        }[self.scope]

    def serves(self, category: str) -> bool:
        return category in _SCOPES[self.scope][1]


def forms(category: str) -> str:
    """The target forms that can name a part of ``category``, for error messages."""
    return ", ".join(_FORMS[s] for s, (_, cats) in _SCOPES.items() if category in cats)


def parse_target(text: Any) -> Target:
    if isinstance(text, Target):
        return text
    if not isinstance(text, str):
        raise FaultError("target", f"must be a string such as 'client bob', not {text!r}")
    for scope, (pattern, _) in _SCOPES.items():
        m = pattern.fullmatch(text.strip())
        if m:
            groups = m.groupdict()
            return Target(scope, name=groups.get("name") or "",
                          gate=int(groups.get("gate") or -1), node=int(groups.get("node") or -1))
    raise FaultError("target", f"cannot read {text!r}; forms: {', '.join(TARGET_FORMS)}")


def expand(target: Target, category: str, names: PartNames) -> list[Target]:
    """The single-part targets a (possibly group) target covers, in topology order."""
    if not target.serves(category):
        raise FaultError("target", f"{target} is not a {category} target")
    s = target.scope
    if s in ("store", "store_link", "store_links") and not names.store:
        raise FaultError("target", f"{target}: there is no shared store in this topology (give it store: postgres)")
    if s == "store_link" and target.node >= names.nodes:
        raise FaultError("target", f"{target}: there are {names.nodes} node(s), numbered from 0")
    if s in ("store", "store_link"):
        return [target]
    if s == "client":
        if target.name not in names.client_names:
            raise FaultError("target", f"no client {target.name!r} (clients: {', '.join(names.client_names)})")
        return [target]
    if s in ("node", "gate", "gate_link"):
        if target.node >= names.nodes and s != "gate":
            raise FaultError("target", f"{target}: there are {names.nodes} node(s), numbered from 0")
        if target.gate >= names.gates and s != "node":
            raise FaultError("target", f"{target}: there are {names.gates} gate(s), numbered from 0")
        return [target]
    clients = [Target("client", name=c) for c in names.client_names]
    gate_links = [Target("gate_link", gate=g, node=n) for g in range(names.gates) for n in range(names.nodes)]
    store_links = [Target("store_link", node=n) for n in range(names.nodes)] if names.store else []
    return {
        "clients": clients, "client_links": clients, "gate_links": gate_links, "store_links": store_links,
        "links": clients + gate_links + store_links,
        "nodes": [Target("node", node=i) for i in range(names.nodes)],
        "gates": [Target("gate", gate=i) for i in range(names.gates)],
    }[s]


def concrete_name(single: Target, category: str, names: PartNames) -> str:
    """The proxy, process or client name of a single-part target."""
    if single.scope == "client":
        return names.client_link(single.name) if category == LINK else single.name
    if single.scope == "gate_link":
        return names.gate_link(single.gate, single.node)
    if single.scope == "store_link":
        return names.store_link(single.node)
    if single.scope == "store":
        return names.STORE
    return names.node(single.node) if single.scope == "node" else names.gate(single.gate)

