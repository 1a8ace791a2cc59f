#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set-up (venv + pinned CometBFT) then pytest.
# Unit tests and end-to-end tests (real CometBFT localnets) run in parallel on two workers, a
# whole test file per worker (e2e modules share one localnet among their tests);
# extra arguments go to pytest (e.g. `tests/run.sh -m "not e2e"`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/localnet/setup.sh"
cd "$ROOT"
export PATH="$ROOT/.tools/bin:$PATH"
# Numba caches compiled kernels beside their modules (cache=True): every test process after
# the first reuses them instead of compiling again.
exec "$ROOT/.venv/bin/python" -m pytest -n "${OPTIO_TEST_WORKERS:-2}" --dist loadfile -q "$@"
