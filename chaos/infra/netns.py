"""Apply and remove a run's networks (``chaos.infra.netplan``) with ``ip`` and ``nft``, whatever way the run ends.

:class:`Network` builds the namespaces, veths and bridge of a
:class:`~chaos.infra.netplan.NetPlan` and removes them on :meth:`Network.close`
(a context manager; also at interpreter exit, and SIGTERM is turned into
the KeyboardInterrupt that unwinds the run). A run killed outright leaves
its namespaces behind: every new run first sweeps those whose owning
process is gone (:func:`sweep`). The mode never falls back silently:
without root, ``ip netns`` or ``nft`` it refuses to start, saying which
(:class:`NetworkUnavailable`).
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from chaos.infra.netplan import EVERYTHING, PREFIX, NetPlan, drop_table, dropped, free_subnet, parse_host_link, parse_namespace

CLONE_NEWNET = 0x40000000
LOCK = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")  # noqa: S108 - a lock file, no data
COMMAND_TIMEOUT = 10.0


class NetworkUnavailable(RuntimeError):
    """The namespace mode cannot run here; the message is one line naming what is missing."""


def _run(cmd: list[str], stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done


def preflight() -> None:
    """Raise :class:`NetworkUnavailable` unless root, ``ip netns`` and ``nft`` are all here."""
    if os.geteuid() != 0:
        raise NetworkUnavailable("network: namespaces needs root (ip netns add, nftables); run as root or drop it")
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            raise NetworkUnavailable(f"network: namespaces needs {tool!r}: apt-get install -y {package}")
    probe = f"{PREFIX}0-{os.getpid()}-probe"
    done = _run(["ip", "netns", "add", probe], check=False)
    if done.returncode != 0:
        raise NetworkUnavailable(f"network: namespaces: ip netns add is not permitted here: {done.stderr.strip()}")
    try:
        table = "table inet pushchat_probe {\n  chain input {\n    type filter hook input priority 0;\n  }\n}\n"
        done = _run(["ip", "netns", "exec", probe, "nft", "-f", "-"], stdin=table, check=False)
        if done.returncode != 0:
            raise NetworkUnavailable(f"network: namespaces: nftables does not work in a namespace: "
                                     f"{done.stderr.strip()}")
    finally:
        _run(["ip", "netns", "del", probe], check=False)


def namespaces() -> list[str]:
    out = _run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def host_links() -> list[str]:
    out = _run(["ip", "-o", "link", "show"]).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def leftovers() -> tuple[list[str], list[str]]:
    """(namespaces, root links) that some run made: ours by their prefix."""
    ours = [ns for ns in namespaces() if parse_namespace(ns) is not None]
    return ours, [link for link in host_links() if parse_host_link(link) is not None]


def pids(namespace: str) -> list[int]:
    """The processes running in ``namespace`` now."""
    done = _run(["ip", "netns", "pids", namespace], check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit()]


def _end_all_in(namespace: str) -> None:
    for pid in pids(namespace):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def sweep() -> list[str]:
    """Remove what runs whose process is gone left behind (and end what still runs in it: a killed run's
    PostgreSQL or etcd outlives it); return what was removed."""
    removed = []
    live_subnets = set()
    spaces, links = leftovers()
    for ns in spaces:
        subnet, owner, _ = parse_namespace(ns)  # type: ignore[misc]
        if _alive(owner) and owner != 0:
            live_subnets.add(subnet)
            continue
        _end_all_in(ns)
        if _run(["ip", "netns", "del", ns], check=False).returncode == 0:
            removed.append(ns)
    for link in links:
        if parse_host_link(link) not in live_subnets and _run(["ip", "link", "del", link], check=False).returncode == 0:
            removed.append(link)
    return removed


def socket_in(namespace: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM,
              proto: int = 0) -> socket.socket:
    """A new socket of ``namespace``'s network (its loopback, its routes), usable from any thread.

    A socket belongs to the namespace of the thread that made it: a thread of its own enters the namespace
    (setns), makes the socket and ends, so the caller's threads never change namespace. How the harness
    reaches what a server serves on its own loopback (its fault control), out of band of any IP-layer fault."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def enter_and_make() -> None:
        try:
            fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc().setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into {namespace}: {os.strerror(err)}")
            finally:
                os.close(fd)
            made.append(socket.socket(family, kind, proto))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failed.append(exc)

    worker = threading.Thread(target=enter_and_make, name=f"setns-{namespace}")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return made[0]


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)  # os.setns is Python 3.12's; we support 3.11
    return _LIBC


class Network:
    """One run's networks, for ``parts``; open with ``with Network(parts) as net`` or :meth:`open`/:meth:`close`."""

    def __init__(self, parts: Iterable[str]) -> None:
        self.parts = tuple(parts)
        self.plan: NetPlan | None = None
        self._tables: set[tuple[str, str]] = set()  # (part, table) loaded and not yet deleted
        self._lock = threading.Lock()
        self._old_sigterm: Any = None

    def open(self) -> "Network":
        preflight()
        with open(LOCK / "pushchat-netns.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs choosing a subnet at once would choose the same
            sweep()
            used = {parse_namespace(ns)[0] for ns in namespaces() if parse_namespace(ns)}  # type: ignore[index]
            used |= {s for s in map(parse_host_link, host_links()) if s is not None}
            self.plan = NetPlan(free_subnet(used), os.getpid(), self.parts)
            atexit.register(self.close)
            self._catch_sigterm()
            try:
                for cmd in self.plan.setup():
                    _run(cmd)
            except BaseException:
                self.close()
                raise
        return self

    def close(self) -> None:
        """Remove every namespace, veth and table this run made (and end any process still in one); safe to
        call twice, never raises."""
        with self._lock:
            plan, self.plan = self.plan, None
            self._tables.clear()
            if plan is None:
                return
            for ns in plan.namespaces():  # what the run did not stop would live on in a nameless namespace
                try:
                    _end_all_in(ns)
                except Exception:  # noqa: BLE001 - keep removing the rest
                    pass
            for cmd in plan.teardown():  # the tables are inside the namespaces: they go with them
                try:
                    _run(cmd, check=False)
                except Exception:  # noqa: BLE001 - keep removing the rest
                    pass
            atexit.unregister(self.close)
            self._restore_sigterm()

    def __enter__(self) -> "Network":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _catch_sigterm(self) -> None:
        """SIGTERM, unhandled, would end the process without unwinding: make it unwind as Ctrl-C does."""
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self._old_sigterm = signal.signal(signal.SIGTERM, signal.default_int_handler)

    def _restore_sigterm(self) -> None:
        if self._old_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None

    # -- what the topology and the faults use ---------------------------------------------
    @property
    def opened(self) -> NetPlan:
        if self.plan is None:
            raise RuntimeError("the network is not open")
        return self.plan

    @property
    def host_addr(self) -> str:
        return self.opened.host_addr

    def addr(self, part: str) -> str:
        return self.opened.addr(part)

    def exec_argv(self, part: str) -> list[str]:
        return self.opened.exec_argv(part)

    def socket_in(self, part: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM,
                  proto: int = 0) -> socket.socket:
        """A socket in ``part``'s namespace (see :func:`socket_in`)."""
        return socket_in(self.opened.namespace(part), family, kind, proto)

    def load(self, part: str, script: str, table: str) -> None:
        """Load an nftables script (one table, ``table``) into ``part``'s namespace."""
        _run([*self.opened.exec_argv(part), "nft", "-f", "-"], stdin=script)
        self._tables.add((part, table))

    def unload(self, part: str, table: str) -> int:
        """Delete a table loaded by :meth:`load`; the packets its rules dropped."""
        if (part, table) not in self._tables or self.plan is None:
            return 0
        listing = _run([*self.plan.exec_argv(part), "nft", "list", "table", "inet", table]).stdout
        _run([*self.plan.exec_argv(part), "nft", "delete", "table", "inet", table])
        self._tables.discard((part, table))
        return dropped(listing)

    def tables(self, part: str) -> list[str]:
        """The tables loaded now in ``part``'s namespace, as nft lists them."""
        out = _run([*self.opened.exec_argv(part), "nft", "list", "tables"]).stdout
        return [line.split()[-1] for line in out.splitlines() if line.startswith("table")]

    async def drop(self, part: str, table: str, rules: Mapping[str, str | Sequence[str]], percent: float = 100) -> str:
        """Load a table dropping what ``rules`` match (a ``percent`` of it) in ``part``'s namespace; its script."""
        script = drop_table(table, rules, percent)
        await asyncio.to_thread(self.load, part, script, table)
        return script

    async def isolate(self, part: str, table: str) -> str:
        """Drop everything in and out of ``part``'s namespace but loopback: its connections are left half-open."""
        return await self.drop(part, table, {chain: [match] for chain, match in EVERYTHING.items()})
