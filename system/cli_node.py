"""``pushchat node``: host chat rooms, push new messages to gates."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from system import service
from system.node import NodeConfig, NodeServer

STORE_HELP = """where rooms live: 'sqlite' (default; a file in --data-dir, durable: an acknowledged message survives
a crash), 'memory' (lost when the node stops; for comparison), or a postgresql://user@host:port/db URL (shared by
the nodes of a cluster)"""


def configure(parser: argparse.ArgumentParser) -> None:
    d = NodeConfig()
    service.add_common_flags(parser, "127.0.0.1:48000")
    parser.add_argument("--gate-buffer", type=service.positive, default=d.gate_buffer, help="queued envelopes per gate")
    parser.add_argument("--max-message-bytes", type=service.positive, default=d.max_message_bytes, help="largest chat message")
    parser.add_argument("--history-limit", type=service.positive, default=d.history_limit,
                        help="messages kept per room, in memory and in the store: it bounds disk use as it bounds memory")
    parser.add_argument("--join-history", type=int, default=d.join_history, help="recent messages returned by Join")
    parser.add_argument("--page-size", type=service.positive, default=d.page_size, help="largest GetRecentMessages page")
    parser.add_argument("--dedup-window", type=service.positive, default=d.dedup_window,
                        help="client message ids remembered per room, for idempotent retries")
    parser.add_argument("--rooms", default=",".join(d.rooms), help="comma-separated room names")
    parser.add_argument("--peers", default="", metavar="ADDR[,ADDR...]",
                        help="the other nodes' advertise addresses: at start this node creates only the default "
                             "objects (ChatRoomMgr0 and the rooms) it owns by placement (default: it is alone "
                             "and creates them all)")
    parser.add_argument("--store", default=d.store, metavar="sqlite|memory|postgresql://…", help=STORE_HELP)
    parser.add_argument("--data-dir", metavar="DIR",
                        help="the sqlite store's folder (default: $XDG_DATA_HOME/pushchat/node-HOST-PORT, "
                             "~/.local/share when unset); one node at a time may use it")
    parser.add_argument("--store-sync", choices=["full", "normal"], default=d.store_sync,
                        help="sqlite: 'full' syncs every commit (survives a crash and a power loss); 'normal' "
                             "survives a crash (SIGKILL) but a power loss may take the last messages")
    parser.add_argument("--store-timeout", type=float, default=d.store_timeout,
                        help="seconds a store call may take before the send fails")


def default_data_dir(listen: str) -> Path:
    """Where a node keeps its sqlite store when not told: one folder per listen address."""
    root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return root / "pushchat" / ("node-" + listen.replace(":", "-").replace("[", "").replace("]", ""))


def data_dir(args: argparse.Namespace) -> str | None:
    if args.store != "sqlite":
        return None
    if args.data_dir:
        return args.data_dir
    if args.listen.endswith(":0"):
        raise SystemExit("pushchat node: a node on port 0 needs --data-dir DIR (or --store memory): "
                         "its port, and so its default folder, would change at every start")
    return str(default_data_dir(args.listen))


def config(args: argparse.Namespace) -> NodeConfig:
    rooms = tuple(r.strip() for r in args.rooms.split(",") if r.strip())
    peers = tuple(p.strip() for p in args.peers.split(",") if p.strip())
    return NodeConfig(listen=args.listen, advertise=args.advertise, peers=peers, gate_buffer=args.gate_buffer,
                      rooms=rooms, max_message_bytes=args.max_message_bytes, history_limit=args.history_limit,
                      join_history=args.join_history, page_size=args.page_size, dedup_window=args.dedup_window,
                      keepalive=service.keepalive(args), metrics_port=args.metrics_port,
                      metrics_host=args.metrics_host, store=args.store, data_dir=data_dir(args),
                      store_sync=args.store_sync, store_timeout=args.store_timeout)


def run(args: argparse.Namespace) -> int:
    service.setup_process("node", args)
    return service.run(NodeServer(config(args)), "node")
