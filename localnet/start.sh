#!/usr/bin/env bash
# One command from a fresh clone to a running 4-validator localnet: set-up (venv + pinned
# CometBFT, skipped when already done) then `optio localnet up`. Extra arguments go to
# `optio localnet up` (e.g. --validators 1, --home DIR, --base-port P).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/localnet/setup.sh"
exec "$ROOT/.venv/bin/optio" localnet up "$@"
