"""Goverse's own Python test code, unchanged, from its source archive: unpacked and given its stubs.

The archive (``../shared/third_party/goverse/goverse-1122ada.tar.gz`` beside the checkout, or
``$PUSHCHAT_GOVERSE_SOURCE``) is test material: it is unpacked into a temporary folder and its
protos are compiled there the way its ``script/compile-proto.sh`` does, with grpcio-tools. None of
its code enters the project. Its tests run in a child Python (their ``chat`` protos would clash
with ours in one process), with the gate's port as their argument.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

ARCHIVE_ENV = "PUSHCHAT_GOVERSE_SOURCE"
ARCHIVE_NAME = "shared/third_party/goverse/goverse-1122ada.tar.gz"
CHECKOUT = Path(__file__).resolve().parents[2]
#: ``../shared`` beside the checkout, or beside any folder above it (a worktree, a CI clone in a subfolder).
DEFAULT_ARCHIVE = next((up / ARCHIVE_NAME for up in CHECKOUT.parents if (up / ARCHIVE_NAME).is_file()),
                       CHECKOUT.parent / ARCHIVE_NAME)
PROTOS = ("proto/goverse.proto", "gate/proto/gate.proto", "samples/chat/proto/chat.proto",
          "cmd/inspector/proto/inspector.proto")  # as script/compile-proto.sh: its test helpers import them all
CHAT_TESTS = Path("tests/samples/chat")


def archive() -> Path | None:
    """Where Goverse's source archive is, or None when this machine has none."""
    path = Path(os.environ.get(ARCHIVE_ENV) or DEFAULT_ARCHIVE)
    return path if path.is_file() else None


def unpack(source: Path, into: Path) -> Path:
    """Unpack the archive into ``into`` and compile its Python stubs; the source tree's root."""
    with tarfile.open(source) as tar:
        tar.extractall(into, filter="data")
    roots = [p for p in into.iterdir() if p.is_dir()]
    assert len(roots) == 1, f"{source}: want one top folder, found {roots}"
    root = roots[0]
    for proto in PROTOS:
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I.", "--python_out=.", "--grpc_python_out=.",
                        proto], cwd=root, check=True, capture_output=True)
        (root / proto).parent.joinpath("__init__.py").touch()
    return root


def run_python(root: Path, code: str, *args: str, folder: str = "",
               timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (``args`` in its ``sys.argv[1:]``) in a child Python inside Goverse's chat test folder (or
    its ``folder``), as its own tests are run: their modules import from there."""
    env = {k: v for k, v in os.environ.items() if k not in ("GRPC_VERBOSITY", "GRPC_TRACE")}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=root / CHAT_TESTS / folder, env=env, capture_output=True,
                          text=True, timeout=timeout)
