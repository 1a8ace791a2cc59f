#!/usr/bin/env bash
# Idempotent set-up of a development machine: a project virtualenv with Optio
# installed (editable, with test extras) and its native extension (ed25519
# verification, tree hashing; built with cargo from chain/native), and a pinned
# CometBFT v0.38 binary in the project-local tools folder. Safe to run again; it
# skips work already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMETBFT_VERSION="v0.38.26"
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"
PY="${PYTHON:-python3}"

log() { printf '[setup] %s\n' "$*" >&2; }

# 1. Python virtualenv with the package installed. Reinstalled only when
#    pyproject.toml changed since the last successful install.
stamp="$VENV/.optio-pyproject.sha256"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv in $VENV"
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing optio and its dependencies"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test]"
  echo "$want" > "$stamp"
else
  log "python environment up to date"
fi

# 2. The native extension (chain/native: Rust, built by maturin with the locked crate
#    versions). Rebuilt only when its sources changed since the last successful install.
native="$ROOT/chain/native"
stamp="$VENV/.optio-native.sha256"
want="$(cat "$native/Cargo.toml" "$native/Cargo.lock" "$native/pyproject.toml" "$native"/*.pyi "$native"/src/*.rs | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null || { log "error: Rust (cargo) is required to build chain/native"; exit 1; }
  log "building the native extension (ed25519 verification, tree hashing; chain/native; about a minute the first time)"
  CARGO_TARGET_DIR="$TOOLS/cargo-target" MATURIN_PEP517_ARGS="--locked" \
    "$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$native"
  echo "$want" > "$stamp"
else
  log "native extension (ed25519 verification, tree hashing) up to date"
fi

# 3. CometBFT, pinned, built once into .tools/bin.
COMETBFT="$TOOLS/bin/cometbft"
have=""
if [ -x "$COMETBFT" ]; then
  have="$("$COMETBFT" version 2>/dev/null || true)"
fi
if [ "$have" != "${COMETBFT_VERSION#v}" ]; then
  command -v go >/dev/null || { log "error: Go is required to build CometBFT"; exit 1; }
  log "building CometBFT $COMETBFT_VERSION into $TOOLS/bin (one-off, a few minutes)"
  mkdir -p "$TOOLS/bin"
  GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/cometbft/cometbft/cmd/cometbft@$COMETBFT_VERSION"
else
  log "CometBFT $have already installed"
fi

# The version string is not proof of the wire protocol: check the ABCI version
# the binary reports is the ABCI 2.0 our server speaks.
abci="$("$COMETBFT" version --verbose | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["abci"])')"
if [ "$abci" != "2.0.0" ]; then
  log "error: $COMETBFT speaks ABCI $abci, Optio needs ABCI 2.0.0"
  exit 1
fi
log "ready: $VENV/bin/optio, $COMETBFT (ABCI $abci)"
