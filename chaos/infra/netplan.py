"""The plan of a run's own networks: namespaces, veth pairs, a bridge, addresses and nftables rules (sans-I/O).

Each server of a run (``node0``, ``gate1``…) gets a network namespace of its
own with one interface, ``eth0``, at ``10.213.S.(i+1)/24``; the interfaces
meet on a bridge in a hub namespace, and the harness's side (where the
proxies and the clients are) has one veth into that bridge at
``10.213.S.254``. ``S`` is the run's subnet, one no other live run uses; the
names carry it and the owning process id, so parallel runs never collide
and a sweep can tell a dead run's leftovers from a live one's.

Faults are nftables tables, one per fault and namespace: adding one is
loading a table, healing it is deleting that table. ``chaos.infra.netns`` runs
what this module writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

PREFIX = "pcn"          # every namespace and root interface a run makes starts with it
NETWORK = "10.213"      # 10.213.S.0/24 per run: addresses of our own making, never 127.0.0.1
HOST_OCTET = 254        # the harness's side of the bridge
STREAMS = ("upstream", "downstream")  # towards the dialled server, or back to the dialler (as Toxiproxy's)

_NAMESPACE = re.compile(rf"^{PREFIX}(?P<subnet>\d{{1,3}})-(?P<owner>\d+)-(?P<part>[a-z0-9]+)$")
_HOST_LINK = re.compile(rf"^{PREFIX}h(?P<subnet>\d{{1,3}})$")


def parse_namespace(name: str) -> tuple[int, int, str] | None:
    """``pcn7-1234-node0`` → (7, 1234, "node0"); None for a name no run made."""
    m = _NAMESPACE.match(name)
    return (int(m["subnet"]), int(m["owner"]), m["part"]) if m else None


def parse_host_link(name: str) -> int | None:
    """``pcnh7`` → 7: the subnet of the run whose harness-side veth it is."""
    m = _HOST_LINK.match(name.split("@", 1)[0])
    return int(m["subnet"]) if m else None


def free_subnet(used: set[int]) -> int:
    """The lowest subnet no live run holds (1-250)."""
    for subnet in range(1, 251):
        if subnet not in used:
            return subnet
    raise RuntimeError(f"every {NETWORK}.S.0/24 subnet (1-250) is held by a live run")


@dataclass(frozen=True)
class NetPlan:
    """One run's networks: ``parts`` (process names) each in a namespace, on subnet ``subnet``, owned by ``owner``."""

    subnet: int
    owner: int
    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 1 <= self.subnet <= 250:
            raise ValueError(f"subnet must be 1-250, not {self.subnet}")
        if len(self.parts) > 250:
            raise ValueError(f"at most 250 parts on one subnet, not {len(self.parts)}")
        for part in self.parts:
            if not re.fullmatch(r"[a-z0-9]+", part):
                raise ValueError(f"part name {part!r} must be lower-case letters and digits")

    def namespace(self, part: str) -> str:
        return f"{PREFIX}{self.subnet}-{self.owner}-{part}"

    @property
    def hub(self) -> str:
        return self.namespace("hub")

    @property
    def host_link(self) -> str:
        return f"{PREFIX}h{self.subnet}"  # 15 characters at most, as the kernel wants

    @property
    def host_addr(self) -> str:
        return f"{NETWORK}.{self.subnet}.{HOST_OCTET}"

    def addr(self, part: str) -> str:
        return f"{NETWORK}.{self.subnet}.{self.parts.index(part) + 1}"

    def namespaces(self) -> list[str]:
        return [self.namespace(p) for p in self.parts] + [self.hub]

    def setup(self) -> list[list[str]]:
        """The ``ip`` commands that build the networks, in order."""
        hub, s = self.hub, self.subnet
        cmds = [["ip", "netns", "add", hub], ["ip", "-n", hub, "link", "set", "lo", "up"],
                ["ip", "-n", hub, "link", "add", "br0", "type", "bridge"],
                ["ip", "-n", hub, "link", "set", "br0", "up"],
                ["ip", "link", "add", self.host_link, "type", "veth", "peer", "name", f"{PREFIX}{s}g"],
                ["ip", "link", "set", f"{PREFIX}{s}g", "netns", hub],
                ["ip", "-n", hub, "link", "set", f"{PREFIX}{s}g", "master", "br0", "up"],
                ["ip", "addr", "add", f"{self.host_addr}/24", "dev", self.host_link],
                ["ip", "link", "set", self.host_link, "up"]]
        for i, part in enumerate(self.parts):
            ns, inner, outer = self.namespace(part), f"{PREFIX}{s}s{i}", f"{PREFIX}{s}p{i}"
            cmds += [["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"],
                     ["ip", "link", "add", inner, "type", "veth", "peer", "name", outer],
                     ["ip", "link", "set", inner, "netns", ns], ["ip", "-n", ns, "link", "set", inner, "name", "eth0"],
                     ["ip", "-n", ns, "addr", "add", f"{self.addr(part)}/24", "dev", "eth0"],
                     ["ip", "-n", ns, "link", "set", "eth0", "up"],
                     ["ip", "link", "set", outer, "netns", hub],
                     ["ip", "-n", hub, "link", "set", outer, "master", "br0", "up"]]
        return cmds

    def teardown(self) -> list[list[str]]:
        """The commands that remove everything :meth:`setup` made (each may find its object gone already).

        The root-side veth first: a namespace's interfaces go with it only when the kernel gets round to it."""
        return [["ip", "link", "del", self.host_link]] + [["ip", "netns", "del", ns] for ns in self.namespaces()]

    def exec_argv(self, part: str) -> list[str]:
        """The prefix that runs a command inside ``part``'s namespace."""
        return ["ip", "netns", "exec", self.namespace(part)]


# ---------------------------------------------------------------- rules


def share(percent: float) -> str:
    """The match for a random ``percent`` of packets ("" for all of them)."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    return "" if percent >= 100 else f"numgen random mod 100 < {int(round(percent))} "


def link_matches(host: str, port: int, stream: str) -> dict[str, str]:
    """Chain → match, in the dialler's namespace, for one direction of the link it dials through the proxy at
    ``host:port``: upstream is what it sends there, downstream what comes back (``both``: each)."""
    out = {"output": f"ip daddr {host} tcp dport {port}", "input": f"ip saddr {host} tcp sport {port}"}
    chains = {"upstream": ("output",), "downstream": ("input",), "both": ("output", "input")}[stream]
    return {chain: out[chain] for chain in chains}


def peer_matches(peer: str, stream: str) -> dict[str, str]:
    """Chain → match for what this namespace sends to ``peer`` (upstream) or receives from it (downstream)."""
    out = {"output": f"ip daddr {peer}", "input": f"ip saddr {peer}"}
    chains = {"upstream": ("output",), "downstream": ("input",), "both": ("output", "input")}[stream]
    return {chain: out[chain] for chain in chains}


#: Everything but loopback: a namespace's own traffic to itself is not the network.
EVERYTHING = {"input": 'iifname != "lo"', "output": 'oifname != "lo"'}


def drop_table(table: str, rules: Mapping[str, str | Sequence[str]], percent: float = 100) -> str:
    """An nftables script: table ``table`` whose chains (``input``, ``output``) drop what each match (or list of
    matches) selects."""
    lines = [f"table inet {table} {{"]
    for chain, selected in rules.items():
        matches = [selected] if isinstance(selected, str) else list(selected)
        if chain not in ("input", "output"):
            raise ValueError(f"unknown chain {chain!r}")
        lines += [f"  chain {chain} {{", f"    type filter hook {chain} priority filter - 10; policy accept;"]
        lines += [f"    {match} {share(percent)}counter drop" for match in matches]
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dropped(listing: str) -> int:
    """The packets a table's rules dropped, from ``nft list table`` (its ``counter packets N`` figures)."""
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", listing))
