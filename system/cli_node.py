"""``pushchat node``: host chat rooms, push new messages to gates."""

from __future__ import annotations

import argparse

from system import service
from system.node import NodeConfig, NodeServer


def configure(parser: argparse.ArgumentParser) -> None:
    d = NodeConfig()
    service.add_common_flags(parser, "127.0.0.1:48000")
    parser.add_argument("--gate-buffer", type=service.positive, default=d.gate_buffer, help="queued envelopes per gate")
    parser.add_argument("--max-message-bytes", type=service.positive, default=d.max_message_bytes, help="largest chat message")
    parser.add_argument("--history-limit", type=service.positive, default=d.history_limit, help="messages kept per room")
    parser.add_argument("--join-history", type=int, default=d.join_history, help="recent messages returned by Join")
    parser.add_argument("--page-size", type=service.positive, default=d.page_size, help="largest GetRecentMessages page")
    parser.add_argument("--dedup-window", type=service.positive, default=d.dedup_window,
                        help="client message ids remembered per room, for idempotent retries")
    parser.add_argument("--rooms", default=",".join(d.rooms), help="comma-separated room names")
    parser.add_argument("--peers", default="", metavar="ADDR[,ADDR...]",
                        help="the other nodes' advertise addresses: at start this node creates only the default "
                             "objects (ChatRoomMgr0 and the rooms) it owns by placement (default: it is alone "
                             "and creates them all)")


def config(args: argparse.Namespace) -> NodeConfig:
    rooms = tuple(r.strip() for r in args.rooms.split(",") if r.strip())
    peers = tuple(p.strip() for p in args.peers.split(",") if p.strip())
    return NodeConfig(listen=args.listen, advertise=args.advertise, peers=peers, gate_buffer=args.gate_buffer,
                      rooms=rooms, max_message_bytes=args.max_message_bytes, history_limit=args.history_limit,
                      join_history=args.join_history, page_size=args.page_size, dedup_window=args.dedup_window,
                      keepalive=service.keepalive(args), metrics_port=args.metrics_port,
                      metrics_host=args.metrics_host)


def run(args: argparse.Namespace) -> int:
    service.setup_process("node", args)
    return service.run(NodeServer(config(args)), "node")
