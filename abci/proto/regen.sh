#!/usr/bin/env bash
# Regenerate the checked-in Python protobuf modules for every project .proto file
# (abci/proto and chain/proto). Run after editing a .proto; commit the output.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
mapfile -t protos < <(find abci/proto chain/proto -name '*.proto' | sort)
[ "${#protos[@]}" -gt 0 ] || { echo "no .proto files found" >&2; exit 1; }
"$PY" -m grpc_tools.protoc -I "$ROOT" --python_out="$ROOT" --pyi_out="$ROOT" "${protos[@]}"
echo "regenerated: ${protos[*]}"
