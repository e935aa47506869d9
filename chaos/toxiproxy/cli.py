"""``pushchat toxiproxy``: the server, with flags a ``toxiproxy-server`` user will recognise.

The real server's single-dash spellings (``-host``, ``-port``, ``-config``,
``-proxy-metrics``, ``-runtime-metrics``) are accepted too.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys

from . import jsonlog
from .decode import ApiError
from .proxy import DIAL_TIMEOUT
from .server import serve
from .toxics import offer_extensions


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", "-host", default="127.0.0.1",
                        help="API address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", "-port", type=int, default=8474,
                        help="API port; 0 picks a free one, reported on stdout (default 8474)")
    parser.add_argument("--config", "-config", metavar="FILE",
                        help="JSON file of proxies to create at start (a /populate body)")
    parser.add_argument("--metrics", "-proxy-metrics", "-runtime-metrics", action="store_true",
                        help="serve Prometheus metrics on /metrics")
    parser.add_argument("--loop", choices=["auto", "uvloop", "asyncio"], default="auto",
                        help="event loop; auto uses uvloop when it is installed")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the starting process dies (used by chaos.infra.links)")
    parser.add_argument("--standard", action="store_true",
                        help="offer no extension toxic (stall, reset): behave exactly as the real "
                             "Toxiproxy, e.g. to prove a harness uses only the standard API")
    parser.add_argument("--dial-timeout", type=float, default=DIAL_TIMEOUT, metavar="SECONDS",
                        help=f"give up dialling a connection's upstream after this long (default {DIAL_TIMEOUT:g})")
    parser.add_argument("--log-file", help="write JSON-lines logs here instead of stderr")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def _loop_factory(choice: str):
    """uvloop when installed (``auto``): its C event loop cuts the proxy's CPU per hop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    return uvloop.new_event_loop


def loopback(host: str) -> bool:
    """Only this machine can reach ``host``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    jsonlog.setup(path=args.log_file, level=getattr(logging, args.log_level))
    offer_extensions(not args.standard)
    if not loopback(args.host):  # asked for: the API changes every proxy, so say who can now reach it
        print(f"pushchat toxiproxy: warning: the API listens on {args.host or 'every interface'}: anyone who "
              "can reach it can add, change and delete proxies", file=sys.stderr)
    try:
        with asyncio.Runner(loop_factory=_loop_factory(args.loop)) as runner:
            return runner.run(serve(args.host, args.port, args.config, args.metrics, dial_timeout=args.dial_timeout,
                                    exit_with_parent=args.exit_with_parent))
    except ApiError as exc:  # the API address cannot be bound: one line for the person, the event for the log
        if args.log_file:
            jsonlog.event(logging.ERROR, "api_failed_to_start", error=exc.message)
        print(f"pushchat toxiproxy: cannot start the API: {exc.message}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.toxiproxy",
                                     description="Toxiproxy-compatible fault proxy")
    configure(parser)
    try:
        return run(parser.parse_args(argv))
    except KeyboardInterrupt:
        return 130
