"""``pushchat gate``: hold client streams, route calls to the owning node."""

from __future__ import annotations

import argparse

from system import faultcontrol, service
from system.gate import GateConfig, GateServer


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
                      etcd_prefix=args.etcd_prefix, lease_ttl=args.lease_ttl, dial=dial,
                      fault_control=args.fault_control)


def run(args: argparse.Namespace) -> int:
    service.setup_process("gate", args)
    return service.run(GateServer(config(args)), "gate")
