"""Regenerate the committed protobuf/gRPC modules from ``proto/``.

Run ``python -m system.pb.generate`` after editing a ``.proto`` file. The
``-Isystem/pb=proto`` mapping makes the generated imports package-absolute
(``from system.pb import gate_pb2``) so they work from an installed package.
``tests/test_generated.py`` regenerates into a temporary folder and fails
when the committed files differ, so they can never go stale silently.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
SERVICES = ("gate.proto", "goverse.proto")
MESSAGES_ONLY = ("chat.proto",)


def generate(out_root: Path) -> list[Path]:
    """Write the generated modules under ``out_root/system/pb``; return them."""
    from grpc_tools import protoc
    import importlib.resources

    include = str(importlib.resources.files("grpc_tools") / "_proto")
    (out_root / "system" / "pb").mkdir(parents=True, exist_ok=True)
    base = ["protoc", f"-Isystem/pb={PROTO_DIR}", f"-I{include}",
            f"--python_out={out_root}", f"--pyi_out={out_root}"]
    jobs = [base + [f"--grpc_python_out={out_root}"] + [str(PROTO_DIR / p) for p in SERVICES],
            base + [str(PROTO_DIR / p) for p in MESSAGES_ONLY]]
    for args in jobs:
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed: {' '.join(args)}")
    return sorted((out_root / "system" / "pb").glob("*_pb2*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="output root (default: the repository)")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path.relative_to(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
