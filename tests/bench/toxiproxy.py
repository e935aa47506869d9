"""Benchmark (not a test): what a proxy with no toxic costs, ours against the real one.

    python -m tests.bench.toxiproxy [--round-trips 5000] [--bulk-mb 256] [--repeat 3]

For each path (direct to an echo server, through our server with no toxic,
on uvloop (the default when installed) and on the standard asyncio loop,
and through a real ``toxiproxy-server`` when one is on PATH or at
``$TOXIPROXY_URL``) it measures 64-byte ping-pong round trips (p50, p99)
and bulk echo throughput (payload bytes sent and echoed back whole, per
second; 1 MB = 10^6 bytes). The echo server and each proxy run in their own
processes; all traffic stays on 127.0.0.1 and every loop is bounded in
count and time. Rounds are interleaved and the median is reported, because
other work on the machine moves single runs a lot. Proxies are made through
the plain HTTP API, so the benchmark needs nothing outside this package.
With a real server it also prints each of ours against it: the round-trip
time it adds over the direct path, as a multiple of what the real one adds,
and its bulk rate as a multiple of the real one's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Iterator

from tests.bench.measure import child_env, median, percentile, rss_kib

_CHUNK = 256 * 1024
_BULK_TIME_LIMIT = 20.0


# -- echo server (runs in its own process: python -m tests.bench.toxiproxy --echo) --------
def _echo_conn(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with conn:
        while True:
            try:
                n = conn.recv_into(buf)
                if not n:
                    return
                conn.sendall(view[:n])
            except OSError:
                return


def _echo_main() -> int:
    srv = socket.create_server(("127.0.0.1", 0))
    print(json.dumps({"event": "listening", "addr": f"127.0.0.1:{srv.getsockname()[1]}"}), flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=_echo_conn, args=(conn,), daemon=True).start()


@contextlib.contextmanager
def _echo_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.toxiproxy", "--echo"],
                            stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        yield json.loads(line)["addr"]
    finally:
        proc.terminate()
        proc.wait()


# -- the servers measured ---------------------------------------------------------------------
class _Api:
    """Just enough of the Toxiproxy HTTP API to make the proxy measured."""

    def __init__(self, url: str) -> None:
        self.url = (url if "//" in url else f"http://{url}").rstrip("/")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    def version(self) -> str:
        return str(self._call("GET", "/version")["version"])

    def create(self, name: str, upstream: str) -> str:
        """A proxy with no toxic; returns the address it listens on."""
        proxy = self._call("POST", "/proxies", {"name": name, "upstream": upstream, "listen": "127.0.0.1:0"})
        return str(proxy["listen"])

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")


def _read_listening(proc: subprocess.Popen, deadline: float) -> str | None:
    """The address in our server's start-up line; None if it exits first (e.g. no uvloop)."""
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                return None
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if doc.get("event") == "listening":
                    return str(doc["addr"])
        elif proc.poll() is not None:
            return None
    raise RuntimeError("our toxiproxy server did not start")


@contextlib.contextmanager
def _our_server(loop: str) -> Iterator[_Api | None]:
    """Our server in its own process, as the harness runs it; None if ``loop`` is unavailable."""
    env = child_env()  # the checkout's chaos package, as the harness runs it
    proc = subprocess.Popen([sys.executable, "-m", "chaos.toxiproxy", "--host", "127.0.0.1", "--port", "0",
                             "--exit-with-parent", "--loop", loop, "--log-file", os.devnull],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            text=True, env=env)
    try:
        addr = _read_listening(proc, time.monotonic() + 20)
        api = None if addr is None else _Api(addr)
        if api is not None:
            api.pid = proc.pid  # type: ignore[attr-defined]  # for its memory
        yield api
    finally:
        proc.terminate()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def _listening_port(pid: int, deadline: float) -> int:
    """The TCP port a process listens on, from /proc (the real server does not report port 0)."""
    while time.monotonic() < deadline:
        inodes = set()
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table) as fh:
                for row in list(fh)[1:]:
                    cols = row.split()
                    if cols[3] == "0A" and cols[9] in inodes:
                        return int(cols[1].rsplit(":", 1)[1], 16)
        time.sleep(0.05)
    raise RuntimeError("real toxiproxy-server did not start listening")


@contextlib.contextmanager
def _real_toxiproxy() -> Iterator[_Api | None]:
    """A real ``toxiproxy-server``: at ``$TOXIPROXY_URL``, or started from PATH; else None."""
    if url := os.environ.get("TOXIPROXY_URL"):
        yield _Api(url)
        return
    binary = shutil.which("toxiproxy-server")
    if binary is None:
        yield None
        return
    proc = subprocess.Popen([binary, "-host", "127.0.0.1", "-port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _listening_port(proc.pid, time.monotonic() + 10)
        yield _Api(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait()


# -- measurements -------------------------------------------------------------------------------
def _connect(addr: str) -> socket.socket:
    host, port = addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def ping_pong(addr: str, round_trips: int, size: int = 64) -> tuple[float, float]:
    """p50 and p99 round-trip time in microseconds."""
    payload = os.urandom(size)
    buf = bytearray(size)
    times = []
    with _connect(addr) as sock:
        for i in range(round_trips + round_trips // 10):
            start = time.perf_counter_ns()
            sock.sendall(payload)
            got = 0
            while got < size:
                n = sock.recv_into(memoryview(buf)[got:])
                if not n:
                    raise RuntimeError("echo closed during ping-pong")
                got += n
            if i >= round_trips // 10:  # the first tenth warms up
                times.append((time.perf_counter_ns() - start) / 1000)
    return percentile(times, 50), percentile(times, 99)


def bulk(addr: str, total_mb: int) -> float:
    """MB/s of payload sent and echoed back whole."""
    total = total_mb * 1_000_000
    payload = memoryview(os.urandom(_CHUNK))
    deadline = time.monotonic() + _BULK_TIME_LIMIT
    with _connect(addr) as sock:
        def send() -> None:
            left = total
            while left > 0 and time.monotonic() < deadline:
                n = min(left, _CHUNK)
                sock.sendall(payload[:n])
                left -= n

        buf = bytearray(_CHUNK)
        start = time.perf_counter()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        got = 0
        while got < total and time.monotonic() < deadline:
            n = sock.recv_into(buf)
            if not n:
                break
            got += n
        elapsed = time.perf_counter() - start
        sender.join(timeout=_BULK_TIME_LIMIT)
    return got / elapsed / 1e6


def many_connections(addr: str, count: int) -> tuple[float, list[socket.socket]]:
    """Open ``count`` connections and echo a byte through each; connections proxied end to end per second
    (accept, upstream dial, first byte both ways). The sockets stay open for the caller."""
    start = time.perf_counter()
    socks = [_connect(addr) for _ in range(count)]
    for sock in socks:
        sock.sendall(b"x")
    for sock in socks:
        if sock.recv(1) != b"x":
            raise RuntimeError("echo lost a byte")
    return count / (time.perf_counter() - start), socks


def concurrency(echo: str, ours: _Api, count: int, round_trips: int) -> list[str]:
    """Our server holding ``count`` open proxied connections: memory, accept rate, added round-trip time."""
    addr = ours.create("many", echo)
    pid = ours.pid  # type: ignore[attr-defined]
    idle_rtt = ping_pong(addr, round_trips)[0] - ping_pong(echo, round_trips)[0]
    direct_rate, socks = many_connections(echo, count)  # what the client and echo server manage alone
    for sock in socks:
        sock.close()
    before = rss_kib(pid)
    rate, socks = many_connections(addr, count)
    try:
        after = rss_kib(pid)
        busy_rtt = ping_pong(addr, round_trips)[0] - ping_pong(echo, round_trips)[0]
    finally:
        for sock in socks:
            sock.close()
    ours.delete("many")
    return [f"{'open connections':<34} {count:>10}",
            f"{'connections per s, direct':<34} {direct_rate:>10.0f}",
            f"{'connections per s, through ours':<34} {rate:>10.0f}",
            f"{'server RSS before / after (MiB)':<34} {before / 1024:>5.1f} / {after / 1024:.1f}",
            f"{'RSS per connection (KiB)':<34} {(after - before) / count:>10.1f}",
            f"{'added rtt p50, 1 open (us)':<34} {idle_rtt:>10.1f}",
            f"{'added rtt p50, {0} open (us)'.format(count + 1):<34} {busy_rtt:>10.1f}"]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def against_real(medians: dict[str, tuple[float, ...]], real_label: str) -> list[str]:
    """Each of ours as a multiple of the real server: the round-trip time added over the direct path
    (p50), and the bulk rate. The direct path's own time is left out because no proxy can save it."""
    direct_p50 = medians["direct"][0]
    real_p50, _, real_rate = medians[real_label]
    real_added = real_p50 - direct_p50
    lines = [f"against {real_label}: added rtt p50 (ours - direct) / (real - direct), bulk ours / real"]
    for label, (p50, _, rate) in medians.items():
        if label.startswith("ours"):
            added = f"{(p50 - direct_p50) / real_added:.2f}x" if real_added > 0 else "n/a (real adds none)"
            lines.append(f"{label:<28} added rtt {added:>6}   bulk {rate / real_rate:.2f}x")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.toxiproxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, default=5000)
    parser.add_argument("--bulk-mb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--connections", type=int, metavar="N",
                        help="instead: N concurrent proxied connections through our server (uvloop): "
                             "memory, accept rate, added round-trip time")
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo:
        return _echo_main()
    if args.connections:
        print(f"# machine: {_machine()}")
        with _echo_server() as echo, _our_server("uvloop") as ours:
            if ours is None:
                print("uvloop is not installed")
                return 1
            print("\n".join(concurrency(echo, ours, args.connections, args.round_trips)))
        return 0

    print(f"# machine: {_machine()}")
    print(f"# {args.round_trips} round trips of 64 bytes; bulk echo of {args.bulk_mb} MB "
          f"in {_CHUNK // 1024} KiB writes; median of {args.repeat} interleaved rounds")
    with contextlib.ExitStack() as stack:
        echo = stack.enter_context(_echo_server())
        paths: list[tuple[str, str]] = [("direct", echo)]
        for loop in ("uvloop", "asyncio"):
            ours = stack.enter_context(_our_server(loop))
            if ours is not None:  # None: uvloop not installed
                paths.append((f"ours, {loop}", ours.create("bench", echo)))
        real = stack.enter_context(_real_toxiproxy())
        if real is not None:
            # A name of this run's own: a server at $TOXIPROXY_URL may hold another run's proxies.
            name = f"bench-{os.getpid()}-{time.monotonic_ns()}"
            real_label = f"real toxiproxy {real.version()}"
            paths.append((real_label, real.create(name, echo)))
            stack.callback(real.delete, name)
        results: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _ in paths}
        for round_ in range(1, args.repeat + 1):
            for label, addr in paths:
                print(f"  round {round_}/{args.repeat}: {label} ...", file=sys.stderr, flush=True)
                results[label].append((*ping_pong(addr, args.round_trips), bulk(addr, args.bulk_mb)))
    header = f"{'path':<28} {'rtt p50 us':>11} {'rtt p99 us':>11} {'bulk MB/s':>10}"
    print(header)
    print("-" * len(header))
    medians = {label: tuple(median(col) for col in zip(*rows)) for label, rows in results.items()}
    for label, (p50, p99, rate) in medians.items():
        print(f"{label:<28} {p50:>11.1f} {p99:>11.1f} {rate:>10.0f}")
    if real is None:
        print("real toxiproxy: not found (put toxiproxy-server on PATH or set TOXIPROXY_URL)")
    else:
        print("\n".join(against_real(medians, real_label)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
