"""The ``pushchat`` command: one entry point, one module per sub-command.

Sub-commands are imported lazily so that ``pushchat node`` does not pay for
matplotlib and ``pushchat toxiproxy`` does not import gRPC. Each module
named here offers ``configure(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys

from chaos import outcome

# Our children exec at once after fork, so gRPC's fork handlers have nothing to
# protect; without this, every server the harness starts prints a gRPC notice.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

COMMANDS: dict[str, tuple[str, str]] = {
    "node": ("system.cli_node", "run a node: hosts chat objects, pushes to gates"),
    "gate": ("system.cli_gate", "run a gate: holds client streams, routes calls to nodes"),
    "client": ("system.cli_client", "interactive chat client"),
    "token": ("system.cli_token", "issue a signed token for a user (and make the secret that signs them)"),
    "up": ("system.cli_up", "start one node and one gate locally, for a first look"),
    "cluster": ("chaos.cli.cluster", "start etcd, PostgreSQL, 3 nodes and 2 gates locally: a real cluster to break"),
    "toxiproxy": ("chaos.toxiproxy.cli", "run the embedded Toxiproxy-compatible server"),
    "chaos": ("chaos.cli.chaos", "list and run chaos scenarios"),
    "demo": ("chaos.cli.demo", "narrated reconnection demos"),
    "goverse": ("chaos.cli.goverse", "build Goverse's node and gate (the Go original) from its source archive"),
}


VERBOSE = ("-v", "--verbose")


def quiet_grpc(verbose: bool) -> None:
    """Keep gRPC core's own log lines (``I1130 … chttp2_transport.cc] Got goaway …``) off the user's screen.

    gRPC core writes them to stderr from C, past our JSON logs, and reads
    GRPC_VERBOSITY once, when grpc is imported; the servers we start inherit
    it. So it is set here, before any command imports grpc: NONE, or INFO
    with ``--verbose`` (or when GRPC_TRACE asks for traces). A GRPC_VERBOSITY
    the user set is kept.
    """
    os.environ.setdefault("GRPC_VERBOSITY", "INFO" if verbose or os.environ.get("GRPC_TRACE") else "NONE")


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: pushchat [--verbose] COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "options:", "  -v, --verbose  also show gRPC's own log lines, for this process and the servers it",
              "                 starts (GRPC_VERBOSITY=INFO; a GRPC_VERBOSITY you set is kept)"]
    lines += ["", "Run 'pushchat COMMAND --help' for a command's options."]
    return "\n".join(lines)


EXIT_USAGE = outcome.USAGE  # the command line is wrong, for every command (chaos/outcome.py)


class Parser(argparse.ArgumentParser):
    """A parser whose sub-commands refuse what they do not know themselves.

    argparse leaves an option unknown to a sub-command (``chaos run baseline --bogus``) to the parent,
    which names it with its own usage; here the sub-command that was given it refuses it, with its usage.
    Sub-parsers are made of the parent's class, so this holds at every level."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def,override]
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def _unknown(word: str) -> str:
    """Why ``pushchat WORD`` is refused: an option it does not have, or a command, with the likely one."""
    if word.startswith("-"):
        return f"unknown option {word!r} (before a command: --verbose, --help; a command's options come after it)"
    close = difflib.get_close_matches(word.lower(), COMMANDS, n=1)
    return f"unknown command {word!r}" + (f"; did you mean {close[0]!r}?" if close else "")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = bool(argv) and argv[0] in VERBOSE
    quiet_grpc(verbose)
    argv = argv[verbose:]
    if argv[:1] in (["-h"], ["--help"], ["help"]):
        print(_usage())
        return 0
    if not argv:
        print(_usage(), file=sys.stderr)
        return EXIT_USAGE
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pushchat: {_unknown(name)}\n\n{_usage()}", file=sys.stderr)
        return EXIT_USAGE
    module_name, help_ = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = Parser(prog=f"pushchat {name}", description=help_)
    module.configure(parser)
    try:
        args = parser.parse_args(rest)
    except SystemExit as exc:  # argparse exits 0 after --help, 2 on a bad command line
        return EXIT_USAGE if exc.code == 2 else int(exc.code or 0)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"pushchat {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
