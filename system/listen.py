"""Listen addresses: check ``HOST:PORT``, bind a server to it alone, and say why not in one line.

gRPC binds with ``SO_REUSEPORT`` by default, so a second server on a taken
port starts too and the kernel splits new connections between the two: a
gate then talks to two different nodes at random. :data:`SERVER_OPTIONS`
turns that off. gRPC also accepts a host whose addresses bind only in part
(``localhost`` with 127.0.0.1 taken still binds ::1), so :func:`bind` tries
each of them first. Failures are :class:`CannotListen` (``cannot listen on
ADDR: REASON``), in place of gRPC core's log lines and its
``GRPC_VERBOSITY`` hint.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

import grpc

SERVER_OPTIONS: list[tuple[str, int]] = [("grpc.so_reuseport", 0)]
Target = tuple[int, tuple[Any, ...]]  # (family, sockaddr)

IN_USE = os.strerror(errno.EADDRINUSE).lower()  # the reason a taken port gives
_TAKEN = (errno.EADDRINUSE, errno.EACCES)  # refused even when another of the host's addresses would bind
_EXAMPLE = "want HOST:PORT, e.g. 127.0.0.1:48000; port 0 picks a free port"


class CannotListen(Exception):
    """An address a server cannot bind; ``str()`` is the one line a user reads."""

    def __init__(self, addr: str, reason: str, purpose: str = "") -> None:
        super().__init__(f"cannot listen on {addr}{f' ({purpose})' if purpose else ''}: {reason}")
        self.addr = addr
        self.reason = reason


def join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse(addr: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port), checked before gRPC sees it.

    gRPC would take ``127.0.0.1`` as port 443 and ``127.0.0.1:99999`` as 34463.
    """
    host, sep, port = addr.rpartition(":")
    if not sep or not port:
        raise CannotListen(addr, f"no port ({_EXAMPLE})")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise CannotListen(addr, "an IPv6 host needs brackets, e.g. [::1]:48000")
    if not host:
        raise CannotListen(addr, "no host (want HOST:PORT, e.g. 127.0.0.1:48000, or 0.0.0.0:48000 for every interface)")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise CannotListen(addr, f"bad port {port!r} (want 0-65535)")
    return host, int(port)


def reason(exc: OSError) -> str:
    """``address already in use``, ``unknown host …``: the socket error in a user's words."""
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


def resolve(addr: str) -> list[Target]:
    """The addresses ``addr`` binds to; CannotListen for a bad address or unknown host."""
    host, port = parse(addr)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CannotListen(addr, f"unknown host {host!r} ({exc.strerror})") from None
    return list(dict.fromkeys((family, sockaddr) for family, _, _, _, sockaddr in infos))


def bind(server: grpc.aio.Server, addr: str, credentials: grpc.ServerCredentials | None = None) -> int:
    """``server.add_insecure_port(addr)`` (``add_secure_port`` with ``credentials``; the server made with
    :data:`SERVER_OPTIONS`); the bound port."""
    targets = resolve(addr)
    if parse(addr)[1]:
        for err in filter(None, map(_probe, targets)):
            if err.errno in _TAKEN:
                raise CannotListen(addr, reason(err))
    try:
        port = server.add_secure_port(addr, credentials) if credentials else server.add_insecure_port(addr)
    except RuntimeError:
        port = 0
    if not port:
        errors = [err for err in map(_probe, targets) if err]
        raise CannotListen(addr, reason(errors[0]) if errors else "gRPC refused it ('pushchat --verbose' shows why)")
    return port


def _probe(target: Target) -> OSError | None:
    """Bind (not listen) a socket as gRPC would, to learn the kernel's answer; nothing is kept."""
    family, sockaddr = target
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            return exc
    return None
