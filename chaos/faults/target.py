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

from chaos.faults.kinds import FaultError
from chaos.naming import CLIENT, LINK, PROCESS, SERVER, PartNames

# scope -> (pattern, categories it can serve)
_SCOPES: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "client": (re.compile(r"(?i:client)\s+(?P<name>[A-Za-z][A-Za-z0-9_-]*)"), (LINK, CLIENT, SERVER)),
    "clients": (re.compile(r"(?i:all\s+clients)"), (LINK, CLIENT)),
    "client_links": (re.compile(r"(?i:all\s+client\s+links)"), (LINK,)),
    "gate_link": (re.compile(r"(?i:gate)\s*(?P<gate>\d+)\s*(?:->|→)\s*(?i:node)\s*(?P<node>\d+)"), (LINK, SERVER)),
    "store_link": (re.compile(r"(?i:node)\s*(?P<node>\d+)\s*(?:->|→)\s*(?i:store)"), (LINK,)),
    "store_links": (re.compile(r"(?i:all\s+store\s+links)"), (LINK,)),
    "store": (re.compile(r"(?i:store)"), (PROCESS,)),
    "etcd_link": (re.compile(r"(?P<srv>(?i:node|gate))\s*(?P<idx>\d+)\s*(?:->|→)\s*(?i:etcd)\s*(?P<member>\d+)"),
                  (LINK,)),
    "etcd_links_of": (re.compile(r"(?P<srv>(?i:node|gate))\s*(?P<idx>\d+)\s*(?:->|→)\s*(?i:etcd)"), (LINK,)),
    "etcd_links": (re.compile(r"(?i:all\s+etcd\s+links)"), (LINK,)),
    "etcd_member": (re.compile(r"(?i:etcd)\s*(?P<member>\d+)"), (PROCESS,)),
    "etcd_members": (re.compile(r"(?i:all\s+etcd)"), (PROCESS,)),
    "partition": (re.compile(r"\{[^{}|]*\}(?:\s*\|\s*\{[^{}|]*\})+"), (LINK,)),
    "gate_links": (re.compile(r"(?i:all\s+gate\s+links)"), (LINK,)),
    "links": (re.compile(r"(?i:all\s+links)"), (LINK,)),
    "node": (re.compile(r"(?i:node)\s*(?P<node>\d+)"), (PROCESS, SERVER)),
    "gate": (re.compile(r"(?i:gate)\s*(?P<gate>\d+)"), (PROCESS, SERVER)),
    "nodes": (re.compile(r"(?i:all\s+nodes)"), (PROCESS, SERVER)),
    "gates": (re.compile(r"(?i:all\s+gates)"), (PROCESS, SERVER)),
}
_FORMS = {"client": "client NAME", "clients": "all clients", "client_links": "all client links",
          "gate_link": "gate I -> node J", "store_link": "node I -> store", "store_links": "all store links",
          "store": "store", "etcd_link": "node I -> etcd J", "etcd_links_of": "node I -> etcd",
          "etcd_links": "all etcd links", "etcd_member": "etcd J", "etcd_members": "all etcd",
          "partition": "{node 0, gate 0} | {node 1, gate 1, etcd, store}", "gate_links": "all gate links",
          "links": "all links",
          "node": "node I", "gate": "gate I", "nodes": "all nodes", "gates": "all gates"}
TARGET_FORMS: tuple[str, ...] = tuple(_FORMS.values())


@dataclass(frozen=True)
class Target:
    """A parsed target; ``str()`` gives its canonical text."""

    scope: str
    name: str = ""      # a client's name; for a single link by name (a partition's cut), the link
    gate: int = -1
    node: int = -1
    member: int = -1    # an etcd member
    groups: tuple[tuple[str, ...], ...] = ()  # a partition's groups of parts (``node0``, ``etcd``, ``client:bob``)

    def __str__(self) -> str:
        server = f"node {self.node}" if self.node >= 0 else f"gate {self.gate}"
        if self.scope == "partition":
            return " | ".join("{" + ", ".join(_part_text(p) for p in g) + "}" for g in self.groups)
        return {
            "etcd_link": f"{server} -> etcd {self.member}", "etcd_links_of": f"{server} -> etcd",
            "etcd_links": "all etcd links", "etcd_member": f"etcd {self.member}", "etcd_members": "all etcd",
            "link_name": self.name,
        }.get(self.scope) or {
            "client": f"client {self.name}", "clients": "all clients",
            "client_links": "all client links", "gate_link": f"gate {self.gate} -> node {self.node}",
            "store_link": f"node {self.node} -> store", "store_links": "all store links", "store": "store",
            "gate_links": "all gate links", "links": "all links", "node": f"node {self.node}",
            "gate": f"gate {self.gate}", "nodes": "all nodes", "gates": "all gates",
        }[self.scope]

    def serves(self, category: str) -> bool:
        return category in _SCOPES[self.scope][1]


def forms(category: str, scope: str | tuple[str, ...] | None = None) -> str:
    """The target forms that can name a part of ``category`` (or just ``scope``, or those scopes), for errors."""
    scopes = (scope,) if isinstance(scope, str) else scope
    return ", ".join(_FORMS[s] for s, (_, cats) in _SCOPES.items() if category in cats and (not scopes or s in scopes))


def parse_target(text: Any) -> Target:
    if isinstance(text, Target):
        return text
    if not isinstance(text, str):
        raise FaultError("target", f"must be a string such as 'client bob', not {text!r}")
    for scope, (pattern, _) in _SCOPES.items():
        m = pattern.fullmatch(text.strip())
        if m:
            if scope == "partition":
                return Target(scope, groups=_groups(text))
            groups = m.groupdict()
            srv, idx = (groups.get("srv") or "").lower(), int(groups.get("idx") or -1)
            return Target(scope, name=groups.get("name") or "",
                          gate=idx if srv == "gate" else int(groups.get("gate") or -1),
                          node=idx if srv == "node" else int(groups.get("node") or -1),
                          member=int(groups.get("member") or -1))
    raise FaultError("target", f"cannot read {text!r}; forms: {', '.join(TARGET_FORMS)}")


_PART = re.compile(r"(?i:(?P<kind>node|gate|etcd)\s*(?P<index>\d+)|(?P<whole>etcd|store)|client\s+(?P<client>"
                   r"[A-Za-z][A-Za-z0-9_-]*))")


def _groups(text: str) -> tuple[tuple[str, ...], ...]:
    """``{node 0, gate 0} | {node 1, etcd}`` → ``(("node0", "gate0"), ("node1", "etcd"))``."""
    groups = []
    for chunk in re.findall(r"\{([^{}]*)\}", text):
        parts = []
        for item in (i.strip() for i in chunk.split(",") if i.strip()):
            m = _PART.fullmatch(item)
            if m is None:
                raise FaultError("target", f"{item!r} in a partition is no part (want node I, gate I, etcd J, etcd, "
                                           "store or client NAME)")
            parts.append(f"{m['kind'].lower()}{m['index']}" if m["kind"] else
                         (m["whole"].lower() if m["whole"] else f"client:{m['client']}"))
        if not parts:
            raise FaultError("target", "a partition's group is empty")
        groups.append(tuple(parts))
    return tuple(groups)


def _part_text(part: str) -> str:
    if part.startswith("client:"):
        return f"client {part[7:]}"
    m = re.fullmatch(r"([a-z]+)(\d+)", part)
    return f"{m[1]} {m[2]}" if m else part


def _cut(target: Target, names: PartNames) -> list[Target]:
    """The links a partition cuts: those whose two ends lie in different groups (unnamed parts keep theirs)."""
    group_of: dict[str, int] = {}
    known = set(names.processes()) | {f"client:{c}" for c in names.client_names} | ({"etcd"} if names.etcd else set())
    for i, group in enumerate(target.groups):
        for part in group:
            if part not in known:
                raise FaultError("target", f"{target}: this topology has no {_part_text(part)}")
            members = [names.etcd_member(j) for j in range(names.etcd)] if part == "etcd" else [part]
            for member in members:
                if member in group_of and group_of[member] != i:
                    raise FaultError("target", f"{target}: {_part_text(member)} is in two groups")
                group_of[member] = i
    cut = []
    for link, (a, b) in names.ends().items():
        a = a if a in names.processes() else f"client:{a}"
        if a in group_of and b in group_of and group_of[a] != group_of[b]:
            cut.append(Target("link_name", name=link))
    if not cut:
        raise FaultError("target", f"{target}: no link crosses between these groups")
    return cut


def expand(target: Target, category: str, names: PartNames) -> list[Target]:
    """The single-part targets a (possibly group) target covers, in topology order."""
    if not target.serves(category):
        raise FaultError("target", f"{target} is not a {category} target")
    s = target.scope
    if s == "partition":
        return _cut(target, names)
    if s.startswith("etcd") and not names.etcd:
        raise FaultError("target", f"{target}: there is no etcd in this topology (give it etcd: 1 or 3)")
    if s in ("etcd_member", "etcd_link") and target.member >= names.etcd:
        raise FaultError("target", f"{target}: there are {names.etcd} etcd member(s), numbered from 0")
    if s in ("etcd_link", "etcd_links_of"):
        if target.node >= names.nodes or target.gate >= names.gates:
            raise FaultError("target", f"{target}: no such {'node' if target.node >= 0 else 'gate'}")
        server = names.node(target.node) if target.node >= 0 else names.gate(target.gate)
        members = [target.member] if s == "etcd_link" else list(range(names.etcd))
        return [Target("link_name", name=names.etcd_link(server, j)) for j in members]
    if s == "etcd_links":
        return [Target("link_name", name=names.etcd_link(srv, j)) for srv in names.servers() for j in range(names.etcd)]
    if s == "etcd_member":
        return [target]
    if s == "etcd_members":
        return [Target("etcd_member", member=j) for j in range(names.etcd)]
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
    etcd_links = [Target("link_name", name=names.etcd_link(srv, j)) for srv in names.servers() for j in range(names.etcd)]
    return {
        "clients": clients, "client_links": clients, "gate_links": gate_links, "store_links": store_links,
        "links": clients + gate_links + store_links + etcd_links,
        "nodes": [Target("node", node=i) for i in range(names.nodes)],
        "gates": [Target("gate", gate=i) for i in range(names.gates)],
    }[s]


def concrete_name(single: Target, category: str, names: PartNames) -> str:
    """The proxy, process or client name of a single-part target."""
    if single.scope == "link_name":
        return single.name
    if single.scope == "etcd_member":
        return names.etcd_member(single.member)
    if single.scope == "client":
        if category == SERVER:  # the gate the client is on (its fault points know the client by name)
            return names.gate(dict(names.clients)[single.name])
        return names.client_link(single.name) if category == LINK else single.name
    if single.scope == "gate_link":  # on a server: node J's stream to gate I
        return names.node(single.node) if category == SERVER else names.gate_link(single.gate, single.node)
    if single.scope == "store_link":
        return names.store_link(single.node)
    if single.scope == "store":
        return names.STORE
    return names.node(single.node) if single.scope == "node" else names.gate(single.gate)

