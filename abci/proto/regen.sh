#!/usr/bin/env bash
# Regenerate the checked-in Python protobuf modules for every project .proto file
# (abci/proto and chain/proto). Run after editing a .proto; commit the output.
# The generated code records the protoc version; pyproject's protobuf pin must
# allow a runtime at least that new (grpcio-tools 1.85 -> protobuf >= 7.35.1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
dirs=()
for d in abci/proto chain/proto; do [ -d "$d" ] && dirs+=("$d"); done
mapfile -t protos < <(find "${dirs[@]}" -name '*.proto' | sort)
[ "${#protos[@]}" -gt 0 ] || { echo "no .proto files found" >&2; exit 1; }
"$PY" -m grpc_tools.protoc -I "$ROOT" --python_out="$ROOT" --pyi_out="$ROOT" "${protos[@]}"
echo "regenerated: ${protos[*]}"
