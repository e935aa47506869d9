"""``host:port`` addresses and listening sockets, in the words of Go's ``net`` package.

The real server reports a bad or taken address with Go's wording (``listen
tcp 127.0.0.1:8474: bind: address already in use``); clients and people
compare those strings, so the proxies and the API listener both bind here.
"""

from __future__ import annotations

import asyncio
import os
import socket

from .decode import ApiError

__all__ = ["split_host_port", "format_addr", "bind_listener"]


def split_host_port(addr: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); ValueError with Go's wording."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise ValueError(f"address {addr}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {addr}: too many colons in address")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"address {addr}: invalid port")
    return host, int(port)


def format_addr(sockname: tuple) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def bind_listener(listen: str) -> socket.socket:
    """Bind and listen on ``listen`` the way Go's ``net.Listen`` reports it; ApiError 500 if not."""
    try:
        host, port = split_host_port(listen)
    except ValueError as exc:
        raise ApiError(f"listen tcp {listen}: {exc}", 500) from None
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise ApiError(f"listen tcp: lookup {host}: no such host", 500) from None
    wanted = socket.AF_INET6 if not host else socket.AF_INET  # Go: "" is dual-stack, names prefer v4
    infos.sort(key=lambda info: info[0] != wanted)
    family, type_, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and not host:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise ApiError(f"listen tcp {listen}: bind: {reason}", 500) from None
    sock.setblocking(False)
    return sock
