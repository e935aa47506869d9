"""``pushchat gate``: hold client streams, route calls to the owning node."""

from __future__ import annotations

import argparse

from system import faultcontrol, service, tls
from system.gate import GateConfig, GateServer
from system.limits import Limits


def configure(parser: argparse.ArgumentParser) -> None:
    d = GateConfig()
    service.add_common_flags(parser, "127.0.0.1:49000")
    parser.add_argument("--nodes", metavar="ADDR[,ADDR...]",
                        help="node addresses to dial (may be proxies); default 127.0.0.1:48000, or none with --etcd")
    parser.add_argument("--client-buffer", type=service.positive, default=d.client_buffer, help="queued pushes per client")
    parser.add_argument("--call-timeout", type=float, default=d.call_timeout, help="seconds a forwarded call may take")
    parser.add_argument("--backoff-min", type=float, default=d.backoff_min, help="node stream re-open backoff base (s)")
    parser.add_argument("--backoff-max", type=float, default=d.backoff_max, help="node stream re-open backoff cap (s)")
    service.add_cluster_flags(parser)
    parser.add_argument("--dial", metavar="NODE=ADDR[,NODE=ADDR...]", default="",
                        help="with --etcd: dial ADDR (a proxy, say) for the node registered as NODE")
    service.add_security_flags(parser, "gate")
    parser.add_argument("--allow-admin-calls", action="store_true",
                        help="let any client CreateObject and DeleteObject (default: only tokens with the admin claim)")
    lim = Limits()
    parser.add_argument("--max-clients", type=service.non_negative, default=lim.max_clients,
                        help=f"Register streams open on this gate at once (default {lim.max_clients}; 0: no limit)")
    parser.add_argument("--max-streams-per-connection", type=service.non_negative, default=lim.streams_per_connection,
                        help=f"Register streams over one connection (default {lim.streams_per_connection})")
    parser.add_argument("--call-rate", type=float, default=lim.call_rate,
                        help=f"calls a second per client (default {lim.call_rate:g}; 0: no limit) ...")
    parser.add_argument("--call-burst", type=service.positive, default=lim.call_burst,
                        help=f"... and in a burst (default {lim.call_burst})")
    parser.add_argument("--connection-call-rate", type=float, default=lim.connection_call_rate,
                        help=f"calls a second over one connection, whatever clients share it (default "
                             f"{lim.connection_call_rate:g}; 0: no limit) ...")
    parser.add_argument("--connection-call-burst", type=service.positive, default=lim.connection_call_burst,
                        help=f"... and in a burst (default {lim.connection_call_burst})")
    parser.add_argument("--max-rooms-per-client", type=service.non_negative, default=lim.rooms_per_client,
                        help=f"rooms one client may join through this gate (default {lim.rooms_per_client})")
    faultcontrol.add_flag(parser)


def config(args: argparse.Namespace) -> GateConfig:
    etcd = service.etcd_endpoints(args.etcd)
    if etcd and args.nodes:
        raise SystemExit("pushchat gate: give --nodes or --etcd, not both (on etcd the nodes are those registered)")
    nodes = tuple(n.strip() for n in (args.nodes or ("" if etcd else "127.0.0.1:48000")).split(",") if n.strip())
    if not nodes and not etcd:
        raise SystemExit("pushchat gate: --nodes lists no address")
    dial = {}
    for item in (i.strip() for i in args.dial.split(",") if i.strip()):
        name, sep, addr = item.partition("=")
        if not sep or not name or not addr:
            raise SystemExit(f"pushchat gate: --dial {item!r}: want NODE=ADDR")
        dial[name] = addr
    return GateConfig(nodes=nodes, listen=args.listen, advertise=args.advertise, client_buffer=args.client_buffer,
                      keepalive=service.keepalive(args), call_timeout=args.call_timeout,
                      backoff_min=args.backoff_min, backoff_max=args.backoff_max,
                      metrics_port=args.metrics_port, metrics_host=args.metrics_host, etcd=etcd,
                      etcd_prefix=args.etcd_prefix, lease_ttl=args.lease_ttl,
                      etcd_access=service.etcd_access(args, "gate"), dial=dial, auth=args.auth,
                      secret=service.secret(args, "gate"), allow_admin_calls=args.allow_admin_calls,
                      limits=Limits(max_clients=args.max_clients, streams_per_connection=args.max_streams_per_connection,
                                    call_rate=args.call_rate, call_burst=args.call_burst,
                                    connection_call_rate=args.connection_call_rate,
                                    connection_call_burst=args.connection_call_burst,
                                    rooms_per_client=args.max_rooms_per_client),
                      tls=service.server_tls(args, "gate"), node_tls=node_tls(args),
                      fault_control=args.fault_control)


def node_tls(args: argparse.Namespace) -> tls.ClientTls | None:
    try:
        return tls.ClientTls.from_files(args.tls_ca, args.tls_client_cert, args.tls_client_key, args.tls_server_name)
    except ValueError as exc:
        raise SystemExit(f"pushchat gate: {exc}") from None


def run(args: argparse.Namespace) -> int:
    service.setup_process("gate", args)
    return service.run(GateServer(config(args)), "gate")
