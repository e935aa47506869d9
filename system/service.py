"""What ``pushchat node`` and ``pushchat gate`` share: flags, logging, announce, clean stop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from system import auth, listen, log, tls
from system.etcdaccess import EtcdAccess
from system.grpcopts import DEFAULT_KEEPALIVE, Keepalive
from system.membership import DEFAULT_PREFIX, DEFAULT_TTL
from system.server import Server

_log = log.get("service")


def add_common_flags(parser: argparse.ArgumentParser, default_listen: str) -> None:
    parser.add_argument("--listen", default=default_listen, metavar="HOST:PORT",
                        help=f"address to bind; port 0 picks a free port (default {default_listen})")
    parser.add_argument("--advertise", metavar="HOST:PORT", help="address others should use (default: the bound address)")
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve Prometheus metrics on this port (0: any free port; default: off)")
    parser.add_argument("--metrics-host", default="127.0.0.1", help="address of the metrics endpoint")
    parser.add_argument("--log-file", metavar="PATH", help="write JSON log lines here instead of stderr")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop (SIGTERM) when the starting process dies (used by the chaos harness)")
    add_keepalive_flags(parser)


def add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    """Membership on etcd, shared by nodes and gates (off by default: a static list of nodes)."""
    parser.add_argument("--etcd", metavar="HOST:PORT[,HOST:PORT...]",
                        help="etcd endpoints: register there (under PREFIX/nodes/ or PREFIX/gates/ ADDR, bound to a "
                             "lease) and follow the nodes registered there; default: off")
    parser.add_argument("--etcd-prefix", default=DEFAULT_PREFIX, help=f"key prefix in etcd (default {DEFAULT_PREFIX})")
    parser.add_argument("--lease-ttl", type=float, default=DEFAULT_TTL,
                        help=f"seconds our etcd key outlives us if we die without a word (default {DEFAULT_TTL:g}); "
                             "a dead node's rooms move after about this long")
    parser.add_argument("--etcd-ca", metavar="PEM", help="reach etcd over TLS, trusting this CA")
    parser.add_argument("--etcd-cert", metavar="PEM",
                        help="present this client certificate to etcd (its --client-cert-auth)")
    parser.add_argument("--etcd-key", metavar="PEM", help="the etcd client certificate's private key")
    parser.add_argument("--etcd-user", metavar="NAME", help="log in to etcd (auth enabled) as this user")
    parser.add_argument("--etcd-password-file", metavar="FILE", help="the etcd user's password (the whole file, "
                        "surrounding whitespace ignored)")


def add_security_flags(parser: argparse.ArgumentParser, role: str) -> None:
    """Authentication and TLS, for a node or a gate (docs/security.md)."""
    who = "every client's Register and call" if role == "gate" else "every call (a gate's token, or an operator's)"
    parser.add_argument("--auth", choices=auth.AUTH_MODES, default="none",
                        help=f"none (default): no tokens; token: {who} must carry 'authorization: Bearer TOKEN' "
                             "signed with --secret-file")
    parser.add_argument("--secret-file", metavar="FILE",
                        help="the secret that signs tokens ('pushchat token --new-secret --secret-file FILE' makes "
                             "one)" + ("; a gate given it also signs its own calls to nodes" if role == "gate" else ""))
    parser.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate (chain)")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    if role == "node":
        parser.add_argument("--tls-ca", metavar="PEM", help="the CA that signs callers' certificates (mutual TLS)")
        parser.add_argument("--tls-require-client-cert", action="store_true",
                            help="admit only callers with a certificate signed by --tls-ca (gates, operators)")
    else:
        parser.add_argument("--tls-ca", metavar="PEM", help="dial the nodes over TLS, trusting this CA")
        parser.add_argument("--tls-client-cert", metavar="PEM", help="present this certificate to nodes (mutual TLS)")
        parser.add_argument("--tls-client-key", metavar="PEM", help="its private key")
        parser.add_argument("--tls-server-name", metavar="NAME",
                            help="the name the nodes' certificates must carry (default: the host dialled)")


def secret(args: argparse.Namespace, service: str) -> bytes | None:
    """The secret of ``--secret-file``; SystemExit with one line when it is needed and missing or unreadable."""
    if args.auth == "token" and not args.secret_file:
        raise SystemExit(f"pushchat {service}: --auth token needs --secret-file")
    if not args.secret_file:
        return None
    try:
        return auth.read_secret(args.secret_file)
    except ValueError as exc:
        raise SystemExit(f"pushchat {service}: {exc}") from None


def server_tls(args: argparse.Namespace, service: str) -> tls.ServerTls | None:
    try:
        if service == "node":
            return tls.ServerTls.from_files(args.tls_cert, args.tls_key, args.tls_ca, args.tls_require_client_cert)
        return tls.ServerTls.from_files(args.tls_cert, args.tls_key)
    except ValueError as exc:
        raise SystemExit(f"pushchat {service}: {exc}") from None


def etcd_access(args: argparse.Namespace, service: str) -> EtcdAccess | None:
    """TLS and login towards etcd from the ``--etcd-*`` flags; SystemExit with one line when they are wrong."""
    given = (args.etcd_ca, args.etcd_cert, args.etcd_key, args.etcd_user, args.etcd_password_file)
    if not any(given):
        return None
    if not args.etcd:
        raise SystemExit(f"pushchat {service}: the --etcd-* flags need --etcd")
    try:
        return EtcdAccess.from_files(*given)
    except ValueError as exc:
        raise SystemExit(f"pushchat {service}: {exc}") from None


def etcd_endpoints(text: str | None) -> tuple[str, ...]:
    """``--etcd`` as host:port endpoints (an ``http://`` prefix is allowed)."""
    out = []
    for item in (text or "").split(","):
        item = item.strip().removeprefix("http://").rstrip("/")
        if item:
            if ":" not in item:
                raise SystemExit(f"--etcd: {item!r} has no port (want HOST:PORT)")
            out.append(item)
    return tuple(out)


def add_keepalive_flags(parser: argparse.ArgumentParser) -> None:
    k = DEFAULT_KEEPALIVE
    parser.add_argument("--keepalive-ms", type=int, default=k.time_ms, help="ping an idle link this often")
    parser.add_argument("--keepalive-timeout-ms", type=int, default=k.timeout_ms, help="keepalive ack timeout")
    parser.add_argument("--ping-timeout-ms", type=int, default=k.ping_timeout_ms,
                        help="grpc.http2.ping_timeout_ms: how long to wait for a ping ack before the link is dead")


def keepalive(args: argparse.Namespace) -> Keepalive:
    return Keepalive(time_ms=args.keepalive_ms, timeout_ms=args.keepalive_timeout_ms,
                     ping_timeout_ms=args.ping_timeout_ms)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def setup_process(component: str, args: argparse.Namespace) -> None:
    """JSON logging, and the tie to the parent process when asked for."""
    log.setup(component, path=args.log_file, level=getattr(logging, args.log_level))
    if args.exit_with_parent:
        exit_with_parent()


def run(server: Server, service: str, **announce: object) -> int:
    """Start, print the announce line (with ``announce`` added), serve until SIGTERM/SIGINT, stop cleanly."""
    return asyncio.run(_serve(server, service, announce))


def exit_with_parent() -> None:
    """Linux: have the kernel send us SIGTERM when our parent dies, so no server outlives a harness.

    Set here, after exec, rather than in a pre-exec hook: a hook would force a
    plain fork() of a parent that runs gRPC threads, whose fork handlers can
    abort the child; without one, the parent can spawn us with vfork.
    """
    import ctypes

    parent = os.getppid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


async def _serve(server: Server, service: str, announce: dict[str, object]) -> int:
    try:
        await server.start()
    except listen.CannotListen as exc:
        print(f"pushchat {service}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"pushchat {service}: cannot start: {exc}", file=sys.stderr)
        return 1
    log.announce(service=service, addr=server.addr, advertise=server.advertise,
                 metrics_port=server.metrics.port, pid=os.getpid(), **announce, **server.announced())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.event(_log, logging.INFO, "stopping", service=service)
    await server.stop()
    return 0
