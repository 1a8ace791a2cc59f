"""The checked-in `abci/proto/*_pb2.py(i)` must be exactly what `abci/proto/regen.sh`'s protoc
produces from the checked-in `.proto` text, so nobody edits one without the other."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO_ROOT / "abci" / "proto"


def test_checked_in_generated_modules_match_the_proto_text(tmp_path: Path) -> None:
    copy = tmp_path / "abci" / "proto"
    shutil.copytree(PROTO_DIR, copy, ignore=shutil.ignore_patterns("*_pb2.py*", "__pycache__"))
    protos = sorted(str(p.relative_to(tmp_path)) for p in copy.glob("*.proto"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{tmp_path}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            *protos,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    generated = sorted(p.name for p in copy.glob("*_pb2.py*"))
    checked_in = sorted(p.name for p in PROTO_DIR.glob("*_pb2.py*"))
    assert generated == checked_in
    stale = [n for n in generated if (copy / n).read_bytes() != (PROTO_DIR / n).read_bytes()]
    assert not stale, f"run abci/proto/regen.sh and commit: {stale} are out of date"
