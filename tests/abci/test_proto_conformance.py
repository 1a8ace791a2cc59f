"""Our own `.proto` text must describe exactly the wire format of CometBFT v0.38's ABCI: every
message and enum we declare is compared field by field (number, name, type, label, referenced
type, oneof membership) and value by value with the official descriptors, compiled from the Go
module cache into a private FileDescriptorSet."""

from __future__ import annotations

import importlib.resources
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from abci.proto import abci_pb2, crypto_pb2, types_pb2

COMETBFT_VERSION = "v0.38.26"
OURS = (abci_pb2, crypto_pb2, types_pb2)

Indexed = dict[str, descriptor_pb2.DescriptorProto | descriptor_pb2.EnumDescriptorProto]


def _go_mod_cache() -> Path | None:
    if os.environ.get("GOMODCACHE"):
        return Path(os.environ["GOMODCACHE"])
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is not None:
        out = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    fallback = Path.home() / "go" / "pkg" / "mod"
    return fallback if fallback.is_dir() else None


def _official_include_dirs() -> tuple[Path, Path]:
    cache = _go_mod_cache()
    if cache is None:
        pytest.skip("no Go module cache found (go env GOMODCACHE); official protos unavailable")
    cometbft = cache / "github.com" / "cometbft" / f"cometbft@{COMETBFT_VERSION}" / "proto"
    if not (cometbft / "tendermint" / "abci" / "types.proto").is_file():
        pytest.skip(f"official CometBFT {COMETBFT_VERSION} protos not in module cache {cache}")
    gogo = sorted((cache / "github.com" / "cosmos").glob("gogoproto@*"))
    gogo = [g for g in gogo if (g / "gogoproto" / "gogo.proto").is_file()]
    if not gogo:
        pytest.skip(f"gogoproto/gogo.proto not in module cache {cache}")
    return cometbft, gogo[-1]


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    cometbft, gogo = _official_include_dirs()
    well_known = Path(str(importlib.resources.files("grpc_tools") / "_proto"))
    out = tmp_path_factory.mktemp("official") / "abci.pb"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{cometbft}",
            f"-I{gogo}",
            f"-I{well_known}",
            "--include_imports",
            f"--descriptor_set_out={out}",
            "tendermint/abci/types.proto",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"protoc failed on the official protos:\n{result.stderr}"
    file_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return _index(list(file_set.file))


@pytest.fixture(scope="module")
def ours() -> Indexed:
    files = []
    for module in OURS:
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files.append(proto)
    return _index(files)


def _walk(
    prefix: str,
    messages: list[descriptor_pb2.DescriptorProto],
    enums: list[descriptor_pb2.EnumDescriptorProto],
) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto | descriptor_pb2.EnumDescriptorProto]]:
    for enum in enums:
        yield f"{prefix}.{enum.name}", enum
    for message in messages:
        name = f"{prefix}.{message.name}"
        yield name, message
        yield from _walk(name, list(message.nested_type), list(message.enum_type))


def _index(files: list[descriptor_pb2.FileDescriptorProto]) -> Indexed:
    index: Indexed = {}
    for file in files:
        for name, item in _walk("", list(file.message_type), list(file.enum_type)):
            index[f".{file.package}{name}"] = item
    return index


def _field_facts(message: descriptor_pb2.DescriptorProto) -> dict[int, tuple[object, ...]]:
    oneofs = [o.name for o in message.oneof_decl]
    return {
        f.number: (
            f.name,
            descriptor_pb2.FieldDescriptorProto.Type.Name(f.type),
            descriptor_pb2.FieldDescriptorProto.Label.Name(f.label),
            f.type_name,
            oneofs[f.oneof_index] if f.HasField("oneof_index") else None,
        )
        for f in message.field
    }


def _describe_mismatches(ours: Indexed, official: Indexed) -> list[str]:
    problems: list[str] = []
    for name in sorted(ours):
        mine = ours[name]
        theirs = official.get(name)
        if theirs is None:
            problems.append(f"{name}: not declared by CometBFT {COMETBFT_VERSION}")
            continue
        if type(mine) is not type(theirs):
            problems.append(f"{name}: message/enum kind differs")
            continue
        if isinstance(mine, descriptor_pb2.EnumDescriptorProto):
            assert isinstance(theirs, descriptor_pb2.EnumDescriptorProto)
            my_values = {v.number: v.name for v in mine.value}
            their_values = {v.number: v.name for v in theirs.value}
            if my_values != their_values:
                problems.append(f"{name}: enum values {my_values} != official {their_values}")
            continue
        assert isinstance(theirs, descriptor_pb2.DescriptorProto)
        my_fields, their_fields = _field_facts(mine), _field_facts(theirs)
        for number in sorted(my_fields.keys() | their_fields.keys()):
            if my_fields.get(number) != their_fields.get(number):
                problems.append(
                    f"{name} field {number}: ours {my_fields.get(number)} "
                    f"!= official {their_fields.get(number)}"
                )
    return problems


def _reachable(index: Indexed, roots: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name.startswith(".google.protobuf."):
            continue
        seen.add(name)
        item = index[name]
        if isinstance(item, descriptor_pb2.DescriptorProto):
            todo.extend(f.type_name for f in item.field if f.type_name)
    return seen


def test_every_declared_message_and_enum_matches_the_official_wire_format(
    ours: Indexed, official: Indexed
) -> None:
    problems = _describe_mismatches(ours, official)
    assert not problems, "proto mismatches with CometBFT:\n" + "\n".join(problems)


def test_every_type_reachable_from_request_and_response_is_declared(
    ours: Indexed, official: Indexed
) -> None:
    needed = _reachable(official, (".tendermint.abci.Request", ".tendermint.abci.Response"))
    missing = sorted(needed - ours.keys())
    assert not missing, f"types CometBFT sends or reads that we do not declare: {missing}"


@pytest.mark.parametrize(
    ("envelope", "kinds"), [(".tendermint.abci.Request", 16), (".tendermint.abci.Response", 17)]
)
def test_request_and_response_oneofs_are_complete(
    ours: Indexed, official: Indexed, envelope: str, kinds: int
) -> None:
    mine, theirs = ours[envelope], official[envelope]
    assert isinstance(mine, descriptor_pb2.DescriptorProto)
    assert isinstance(theirs, descriptor_pb2.DescriptorProto)
    assert sorted(f.name for f in mine.field) == sorted(f.name for f in theirs.field)
    assert len(mine.field) == kinds


def test_a_mismatch_is_reported(ours: Indexed, official: Indexed) -> None:
    tampered = dict(ours)
    original = ours[".tendermint.abci.RequestInfo"]
    assert isinstance(original, descriptor_pb2.DescriptorProto)
    info = descriptor_pb2.DescriptorProto()
    info.CopyFrom(original)
    info.field[1].number = 7
    tampered[".tendermint.abci.RequestInfo"] = info
    problems = _describe_mismatches(tampered, official)
    assert any("RequestInfo field 7" in p for p in problems)
    assert any("RequestInfo field 2" in p for p in problems)
