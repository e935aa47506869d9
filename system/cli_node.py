"""``pushchat node``: host chat rooms, push new messages to gates."""

from __future__ import annotations

import argparse

from system import datadir, faultcontrol, service
from system.node import NodeConfig, NodeServer
from system.presence import PresenceConfig
from system.store import describe_spec

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
    add_push_to_sender(parser)
    parser.add_argument("--peers", default="", metavar="ADDR[,ADDR...]",
                        help="the other nodes' advertise addresses: at start this node creates only the default "
                             "objects (ChatRoomMgr0 and the rooms) it owns by placement (default: it is alone "
                             "and creates them all)")
    parser.add_argument("--store", type=store_spec, default=d.store, metavar="sqlite|memory|postgresql://…", help=STORE_HELP)
    parser.add_argument("--data-dir", metavar="DIR",
                        help="the sqlite store's folder; one node at a time may use it (default: "
                             "$XDG_DATA_HOME/pushchat/node-HOST-PORT, ~/.local/share when unset; with port 0, a "
                             "temporary folder removed when the node stops)")
    parser.add_argument("--store-sync", choices=["full", "normal"], default=d.store_sync,
                        help="sqlite: 'full' syncs every commit (survives a crash and a power loss); 'normal' "
                             "survives a crash (SIGKILL) but a power loss may take the last messages")
    parser.add_argument("--store-timeout", type=float, default=d.store_timeout,
                        help="seconds a store call may take before the send fails")
    parser.add_argument("--presence-grace", type=seconds, default=d.presence.grace, metavar="S",
                        help="seconds a member may go unheard (its client's heartbeat stopped) before it shows as away; a room "
                             "past 100 heartbeats a second stretches it with the heartbeat interval it advises")
    parser.add_argument("--typing-expiry", type=seconds, default=d.presence.typing_expiry,
                        metavar="S", help="seconds a receiver shows 'typing' after the last typing push")
    parser.add_argument("--typing-interval", type=seconds, default=d.presence.typing_interval, metavar="S",
                        help="least seconds between two typing pushes of one member (more are refused)")
    add_member_flags(parser)
    service.add_cluster_flags(parser)
    parser.add_argument("--node-id", metavar="NAME",
                        help="with --etcd: the name placement knows this node by, kept across restarts on another "
                             "address (default: the advertise address)")
    service.add_security_flags(parser, "node")
    faultcontrol.add_flag(parser)


def add_member_flags(parser: argparse.ArgumentParser) -> None:
    """The bounds on a room's members: ``pushchat node`` and ``pushchat up`` take them alike."""
    d = NodeConfig()
    parser.add_argument("--max-members-per-room", type=service.non_negative, default=d.max_members_per_room,
                        metavar="N", help="members a room may have; a join past it is refused (0: no limit)")
    parser.add_argument("--member-expiry", type=seconds_or_off, default=d.presence.expiry, metavar="S",
                        help="seconds a member may go unheard (no call, not even its client's heartbeat) before "
                             "it is dropped from the room, stored list included, and the others see it leave "
                             "(0: never)")


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def seconds_or_off(text: str) -> float:
    """A positive number of seconds, or 0 for never."""
    try:
        off = float(text) == 0
    except ValueError:
        off = False
    return 0.0 if off else seconds(text)


def store_spec(text: str) -> str:
    if text in ("sqlite", "memory") or text.startswith(("postgresql://", "postgres://")):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a store: want sqlite, memory or a postgresql:// URL")


def add_push_to_sender(parser: argparse.ArgumentParser) -> None:
    """``--push-to-sender``, on ``pushchat node`` and on ``pushchat up``, which passes it on."""
    parser.add_argument("--push-to-sender", action="store_true",
                        help="push each message to its sender too, as Goverse's own chat does (default: to the "
                             "other members only, as the design document says)")


def config(args: argparse.Namespace) -> NodeConfig:
    rooms = tuple(r.strip() for r in args.rooms.split(",") if r.strip())
    peers = tuple(p.strip() for p in args.peers.split(",") if p.strip())
    return NodeConfig(listen=args.listen, advertise=args.advertise, peers=peers, gate_buffer=args.gate_buffer,
                      rooms=rooms, max_message_bytes=args.max_message_bytes, history_limit=args.history_limit,
                      join_history=args.join_history, page_size=args.page_size, dedup_window=args.dedup_window,
                      keepalive=service.keepalive(args), metrics_port=args.metrics_port,
                      metrics_host=args.metrics_host, store=args.store, store_sync=args.store_sync,
                      store_timeout=args.store_timeout, etcd=service.etcd_endpoints(args.etcd),
                      etcd_prefix=args.etcd_prefix, lease_ttl=args.lease_ttl,
                      etcd_access=service.etcd_access(args, "node"), node_id=args.node_id, auth=args.auth,
                      secret=service.secret(args, "node"), tls=service.server_tls(args, "node"),
                      fault_control=args.fault_control, push_to_sender=args.push_to_sender,
                      max_members_per_room=args.max_members_per_room,
                      presence=PresenceConfig(grace=args.presence_grace, typing_expiry=args.typing_expiry,
                                              typing_interval=args.typing_interval, expiry=args.member_expiry))


def run(args: argparse.Namespace) -> int:
    service.setup_process("node", args)
    node = config(args)
    node.data_dir = datadir.data_dir(node.store, args.data_dir, args.listen)
    server = NodeServer(node)
    extra = {"store": describe_spec(node.store)}
    if server.data_dir:
        extra.update(data_dir=server.data_dir, data_temporary=server.data_dir != node.data_dir)
    return service.run(server, "node", **extra)
