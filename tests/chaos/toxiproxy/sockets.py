"""Small TCP servers and socket helpers for the Toxiproxy tests (127.0.0.1, port 0 only)."""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time
from typing import Callable

#: The two directions a toxic can act on, as the API names them.
STREAMS = ["upstream", "downstream"]


class TcpServer:
    """A threaded TCP server on 127.0.0.1:0 running ``handler(conn)`` per connection."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


def echo(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := conn.recv(65536):
        conn.sendall(data)


class Sink:
    """Handler that reads everything and keeps it, for checking what arrived."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.lock = threading.Lock()

    def __call__(self, conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            with self.lock:
                self.data += chunk

    def __len__(self) -> int:
        with self.lock:
            return len(self.data)


def wait_for(cond: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``cond`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def connect(addr: str, timeout: float = 5.0) -> socket.socket:
    host, port = addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise AssertionError(f"EOF after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


def recv_until_eof(sock: socket.socket) -> bytes:
    """Everything until EOF (a reset raises ConnectionResetError)."""
    out = bytearray()
    while chunk := sock.recv(65536):
        out += chunk
    return bytes(out)


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    """Seconds for ``payload`` to come back from an echo upstream."""
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


def send_until_blocked(sock: socket.socket, limit: int = 256_000_000) -> bytes:
    """Send until the socket stays unwritable for 0.3 s: the sender feels backpressure."""
    sock.setblocking(False)
    sent = bytearray()
    block = os.urandom(65536)
    while len(sent) < limit:
        try:
            n = sock.send(block)
            sent += block[:n]
        except BlockingIOError:
            if not select.select([], [sock], [], 0.3)[1]:
                break
    sock.setblocking(True)
    assert len(sent) < limit, "never felt backpressure"
    return bytes(sent)


class DeafServer:
    """A listener on 127.0.0.1:0 that never accepts, its accept queue already full: a dial to it hangs in SYN-SENT
    (the kernel drops the SYN), as to a server too busy to accept."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._plugs = []
        for _ in range(4):  # a backlog of 0 queues one or two connections; the rest wait
            plug = socket.socket()
            plug.setblocking(False)
            plug.connect_ex(self.sock.getsockname())
            self._plugs.append(plug)

    def close(self) -> None:
        for sock in (*self._plugs, self.sock):
            sock.close()


def held_sockets(pid: int) -> tuple[int, int]:
    """(TCP sockets process ``pid`` holds open, how many of them are in CLOSE-WAIT: their peer closed, we did not)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    close_wait = 0
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                close_wait += fields[3] == "08" and fields[9] in inodes  # 08: TCP_CLOSE_WAIT
    return len(inodes), close_wait


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
