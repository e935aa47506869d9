"""``pushchat up``: one node and one gate in one process, for a first look."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from system import cli_node, datadir, listen, log
from system.gate import GateConfig, GateServer
from system.node import NodeConfig, NodeServer
from system.presence import PresenceConfig


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node-listen", default="127.0.0.1:48000", metavar="HOST:PORT", help="node address (port 0: any)")
    parser.add_argument("--gate-listen", default="127.0.0.1:49000", metavar="HOST:PORT", help="gate address (port 0: any)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where the node keeps its rooms (default: $XDG_DATA_HOME/pushchat/node-HOST-PORT, the folder "
                             "'pushchat node' on that address uses too; ~/.local/share when unset; with node port 0, "
                             "a temporary folder removed at exit)")
    cli_node.add_push_to_sender(parser)
    parser.add_argument("--log-file", metavar="PATH", help="write JSON log lines here (default: warnings on stderr)")
    cli_node.add_member_flags(parser)


async def _main(args: argparse.Namespace) -> int:
    given = datadir.data_dir("sqlite", args.data_dir, args.node_listen, )
    node = NodeServer(NodeConfig(listen=args.node_listen, data_dir=given, push_to_sender=args.push_to_sender,
                                 max_members_per_room=args.max_members_per_room,
                                 presence=PresenceConfig(expiry=args.member_expiry)))
    gate: GateServer | None = None
    what = "node"
    try:
        await node.start()
        what = "gate"
        gate = GateServer(GateConfig(nodes=(node.addr,), listen=args.gate_listen))
        await gate.start()
        await gate.wait_ready(10.0)
    except Exception as exc:
        if isinstance(exc, listen.CannotListen):
            hint = f" (is another pushchat running? --{what}-listen 127.0.0.1:0 picks a free port)" \
                if exc.reason == listen.IN_USE else ""
            print(f"pushchat up: {what} {exc}{hint}", file=sys.stderr)
        else:
            print(f"pushchat up: {what} cannot start: {exc}", file=sys.stderr)
        if gate is not None:
            await gate.stop()
        await node.stop()
        return 1
    kept = "kept across restarts" if given else "a temporary folder, removed at exit"
    print(f"pushchat is up: node {node.addr}, gate {gate.addr} (Ctrl-C to stop)\n"
          f"Rooms are stored in {node.data_dir} ({kept}).\n"
          f"In two other terminals:\n"
          f"  pushchat client --server {gate.addr} --user alice\n"
          f"  pushchat client --server {gate.addr} --user bob\n"
          f"then /join General in both, and type.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await gate.stop()
    await node.stop()
    print("pushchat: stopped", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    log.setup("up", path=args.log_file, level=logging.INFO if args.log_file else logging.WARNING)
    return asyncio.run(_main(args))
