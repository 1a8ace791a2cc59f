"""Runs every consensus kernel of the pricing core over a set of inputs and hashes the bits.

Used by ``test_determinism.py`` twice: in the test process (JIT-compiled) and in a
subprocess with ``NUMBA_DISABLE_JIT=1`` (the same kernels as plain Python), whose raw
output bytes must be identical. Also defines the fixed grid behind the committed golden
digest; print it with ``python -m tests.pricing.consensus_outputs --golden``.
"""

import argparse
import hashlib
import itertools

import numba
import numpy as np
from numba import njit

from pricing.black import _greeks_kernel, _price_kernel
from pricing.config import JIT
from pricing.dmath import exp, log, norm_cdf, norm_pdf
from pricing.iv import _iv_kernel

MATH_FIELDS = ("exp_x", "log_x", "cdf_x")


@njit(**JIT)
def _math_kernel(exp_x: np.ndarray, log_x: np.ndarray, cdf_x: np.ndarray, out: np.ndarray) -> None:
    for i in range(exp_x.shape[0]):
        out[0, i] = exp(exp_x[i])
        out[1, i] = log(log_x[i])
        out[2, i] = norm_cdf(cdf_x[i])
        out[3, i] = norm_pdf(cdf_x[i])


def random_inputs(n: int, seed: int) -> dict[str, np.ndarray]:
    """n random cases per kernel over wide ranges, including zeros and edge regions."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, 5.0, n)
    t[rng.random(n) < 0.02] = 0.0
    sigma = 10.0 ** rng.uniform(-3.0, 0.7, n)
    sigma[rng.random(n) < 0.02] = 0.0
    return {
        "exp_x": rng.uniform(-750.0, 712.0, n),
        "log_x": 10.0 ** rng.uniform(-310.0, 308.0, n),
        "cdf_x": rng.uniform(-42.0, 42.0, n),
        "u": 10.0 ** rng.uniform(-1.0, 5.0, n),
        "k": 10.0 ** rng.uniform(-1.0, 5.0, n),
        "t": t,
        "sigma": sigma,
        "r": rng.uniform(-0.05, 0.2, n),
        "q": rng.uniform(0.0, 0.1, n),
        "call": rng.random(n) < 0.5,
        "price_noise": rng.uniform(0.9, 1.1, n),
    }


def grid_inputs() -> dict[str, np.ndarray]:
    """A fixed, seed-free grid: the golden digest must not depend on a RNG implementation."""
    opts = np.array(list(itertools.product(
        (50.0, 100.0, 200.0),
        (40.0, 80.0, 95.0, 100.0, 105.0, 125.0, 250.0),
        (0.0, 1.0 / 365.0, 0.1, 0.5, 1.0, 3.0),
        (0.0, 0.05, 0.2, 0.5, 1.0, 3.0),
        (-0.01, 0.0, 0.05),
        (0.0, 0.03),
        (0.0, 1.0),
    )))
    m = opts.shape[0]
    return {
        "exp_x": np.linspace(-750.0, 712.0, m),
        "log_x": np.geomspace(1e-310, 1e308, m),
        "cdf_x": np.linspace(-42.0, 42.0, m),
        "u": opts[:, 0], "k": opts[:, 1], "t": opts[:, 2], "sigma": opts[:, 3],
        "r": opts[:, 4], "q": opts[:, 5], "call": opts[:, 6] == 1.0,
        "price_noise": np.linspace(0.9, 1.1, m),
    }


def outputs(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every kernel's outputs: math core, BSM and Black-76 Greeks, prices, implied vols."""
    n = inputs["u"].shape[0]
    u, k, t, sigma, r, q, call = (inputs[name] for name in ("u", "k", "t", "sigma", "r", "q", "call"))
    result = {}
    math_out = np.empty((4, n))
    _math_kernel(inputs["exp_x"], inputs["log_x"], inputs["cdf_x"], math_out)
    result["math"] = math_out
    for label, yield_, forward in (("bsm", q, False), ("black76", r, True)):
        greeks = np.empty((6, n))
        _greeks_kernel(u, k, t, sigma, r, yield_, call, forward, greeks)
        result[f"{label}_greeks"] = greeks
        prices = np.empty(n)
        _price_kernel(u, k, t, sigma, r, yield_, call, prices)
        result[f"{label}_price"] = prices
        # Implied vols of the model prices and of prices off by up to ±10 %, some of which
        # fall outside the arbitrage bounds and exercise the error statuses.
        for suffix, target in (("", prices), ("_noisy", prices * inputs["price_noise"])):
            vols, status = np.empty(n), np.empty(n, np.int8)
            live = t > 0.0
            vols[:], status[:] = np.nan, -1
            sub_vols, sub_status = np.empty(int(live.sum())), np.empty(int(live.sum()), np.int8)
            _iv_kernel(target[live], u[live], k[live], t[live], r[live], yield_[live], call[live], sub_vols, sub_status)
            vols[live], status[live] = sub_vols, sub_status
            result[f"{label}_iv{suffix}"] = vols
            result[f"{label}_iv_status{suffix}"] = status
    return result


def digest(outs: dict[str, np.ndarray]) -> str:
    """SHA-256 over the outputs in name order, each as little-endian bytes."""
    h = hashlib.sha256()
    for name in sorted(outs):
        a = outs[name]
        h.update(name.encode())
        h.update(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", help="read inputs from this .npz file (default: the fixed grid)")
    parser.add_argument("--out", help="write the outputs to this .npz file")
    parser.add_argument("--golden", action="store_true", help="print the digest of the outputs")
    args = parser.parse_args()
    if args.inputs:
        with np.load(args.inputs) as data:
            inputs = {name: data[name] for name in data.files}
    else:
        inputs = grid_inputs()
    outs = outputs(inputs)
    # Lets the caller verify which mode actually ran.
    print(f"NUMBA_DISABLE_JIT={int(numba.config.DISABLE_JIT)}")
    if args.out:
        np.savez(args.out, **outs)
    if args.golden:
        print(digest(outs))


if __name__ == "__main__":
    main()
