"""Determinism of the pricing core: JIT-compiled and interpreted kernels give identical bits,
and the outputs over a fixed grid match the committed golden digest."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.pricing.consensus_outputs import digest, grid_inputs, outputs, random_inputs

GOLDEN = Path(__file__).parent / "golden" / "pricing_core.sha256"
REPO = Path(__file__).resolve().parents[2]


def run_interpreted(*args: str) -> str:
    """Runs consensus_outputs in a fresh process with NUMBA_DISABLE_JIT=1; returns stdout."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.pricing.consensus_outputs", *args],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    )
    assert "NUMBA_DISABLE_JIT=1" in done.stdout
    return done.stdout


def golden_digest() -> str:
    return GOLDEN.read_text().split()[0]


def test_jit_and_interpreted_kernels_give_identical_bits_over_100000_random_inputs(tmp_path):
    inputs = random_inputs(100_000, seed=20261121)
    np.savez(tmp_path / "inputs.npz", **inputs)
    run_interpreted("--inputs", str(tmp_path / "inputs.npz"), "--out", str(tmp_path / "interpreted.npz"))
    compiled = outputs(inputs)
    with np.load(tmp_path / "interpreted.npz") as interpreted:
        assert sorted(interpreted.files) == sorted(compiled)
        differing = [name for name in compiled if interpreted[name].tobytes() != compiled[name].tobytes()]
    assert differing == []


def test_compiled_outputs_over_the_fixed_grid_match_the_golden_digest():
    assert digest(outputs(grid_inputs())) == golden_digest()


def test_interpreted_outputs_over_the_fixed_grid_match_the_golden_digest():
    assert golden_digest() in run_interpreted("--golden")
