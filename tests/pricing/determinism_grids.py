"""Fixed, seeded input grids for the surface, risk and Monte Carlo kernels, and their outputs as bytes.

Each producer builds its inputs from a fixed NumPy seed, runs the public kernels and returns the
raw bytes of every output. The determinism tests call a producer twice: in-process (JIT) and in a
subprocess with ``NUMBA_DISABLE_JIT=1`` (interpreted), and require identical bytes; the SHA-256 of
the same bytes is pinned as a golden digest so a change of any output bit is never silent.
"""

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]


def philox_outputs() -> bytes:
    """Philox4x32-10 over 100,000 random (counter, key) pairs, edge words included."""
    from pricing.philox import philox_blocks

    rng = np.random.default_rng(20261121)
    n = 100_000
    counters = rng.integers(0, 2**32, size=(n, 4), dtype=np.uint64)
    keys = rng.integers(0, 2**32, size=(n, 2), dtype=np.uint64)
    counters[:4] = [[0, 0, 0, 0], [2**32 - 1] * 4, [1, 0, 0, 0], [0, 0, 0, 2**32 - 1]]
    keys[:4] = [[0, 0], [2**32 - 1] * 2, [0, 0], [2**32 - 1, 0]]
    return philox_blocks(counters, keys).astype("<u4").tobytes()


def svi_surface_fixture():
    """A four-expiry surface with skew, free of static arbitrage."""
    from pricing.svi import SVISlice, SVISurface

    slices = [
        SVISlice(0.010, 0.10, -0.35, 0.00, 0.10),
        SVISlice(0.030, 0.15, -0.30, 0.02, 0.15),
        SVISlice(0.070, 0.18, -0.25, 0.03, 0.20),
        SVISlice(0.150, 0.20, -0.20, 0.05, 0.30),
    ]
    return SVISurface.from_slices([1 / 12, 0.25, 0.5, 1.0], slices)


def svi_outputs() -> bytes:
    """Implied vols of the fixture surface at 100,000 random strikes and expiries (nodes
    included), and total variances at 100,000 random log-moneyness points."""
    from pricing.svi import surface_implied_vols, surface_total_variance

    surface = svi_surface_fixture()
    rng = np.random.default_rng(20261122)
    n = 100_000
    strikes = 100.0 * np.exp(rng.uniform(-1.5, 1.5, n))
    ts = rng.uniform(1 / 365, 2.0, n)
    ts[:4] = surface.expiries
    vols = surface_implied_vols(surface, 100.0, strikes, ts)
    ks = rng.uniform(-3.0, 3.0, n)
    return vols.tobytes() + surface_total_variance(surface, ks, ts).tobytes()


def random_instruments(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Calls, puts and futures with edge cases: expired (T = 0), zero vol, far strikes."""
    kind = rng.integers(0, 3, n)
    strike = 100.0 * np.exp(rng.uniform(-1.2, 1.2, n))
    expiry = rng.uniform(0.0, 2.0, n)
    expiry[::97] = 0.0
    expiry[1::89] = 1.0 / (365.0 * 24.0)
    forward = 100.0 * np.exp(rng.uniform(-0.05, 0.05, n))
    vol = rng.uniform(0.05, 2.0, n)
    vol[2::83] = 0.0
    return {"kind": kind, "strike": strike, "expiry": expiry, "forward": forward, "vol": vol}


def portfolio_outputs() -> bytes:
    """Instrument P&L vectors (3,000 instruments x 35 scenarios, about 105,000 Black-76 prices),
    worst losses of 500 CSR accounts over them, and five fully repriced 100-position accounts."""
    from pricing.portfolio import ScenarioGrid, instrument_pnl_vectors, revalue_account, revalue_accounts

    grid = ScenarioGrid()
    rng = np.random.default_rng(20261123)
    inst = random_instruments(rng, 3000)
    vectors = instrument_pnl_vectors(grid, rate=0.03, **inst)
    sizes = rng.integers(0, 60, 500)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    rows = int(offsets[-1])
    index = rng.integers(0, 3000, rows)
    qty = rng.integers(-1000, 1000, rows)
    worst, pnl = revalue_accounts(grid, vectors, offsets, index, qty, keep_pnl=True)
    assert pnl is not None
    parts = [vectors.tobytes(), worst.tobytes(), pnl.tobytes()]
    for _ in range(5):
        acct = random_instruments(rng, 100)
        risk = revalue_account(grid, qty=rng.integers(-50, 50, 100), rate=0.03, **acct)
        parts += [risk.pnl.tobytes(), np.float64(risk.worst_loss).tobytes()]
    return b"".join(parts)


MC_SEED = bytes(range(32))


def montecarlo_outputs() -> bytes:
    """100,000 inverse-normal values (tails included) and six Monte Carlo runs (Asian call and
    put, the four barrier styles), each 400 antithetic pairs x 17 steps."""
    from pricing.montecarlo import norm_ppf_array, price_asian, price_barrier

    rng = np.random.default_rng(20261124)
    u = rng.uniform(0.0, 1.0, 100_000)
    u[:6] = [0.5 * 2.0**-32, 1.0 - 0.5 * 2.0**-32, 0.5, 0.02425, 1.0 - 0.02425, 1e-300]
    parts = [norm_ppf_array(u).tobytes()]
    common = {"spot": 100.0, "strike": 95.0, "t": 0.75, "vol": 0.8, "rate": 0.04, "div_yield": 0.01}
    runs = [price_asian(MC_SEED, True, n_steps=17, n_pairs=400, **common),
            price_asian(MC_SEED, False, n_steps=17, n_pairs=400, **common)]
    barriers = (("up-and-out", 140.0), ("up-and-in", 140.0), ("down-and-out", 70.0), ("down-and-in", 70.0))
    for style, barrier in barriers:
        is_call = style.startswith("up")
        runs.append(price_barrier(MC_SEED, is_call, style, barrier=barrier, n_steps=17, n_pairs=400, **common))
    parts += [np.array([r.price, r.std_error]).tobytes() for r in runs]
    return b"".join(parts)


PRODUCERS: dict[str, Callable[[], bytes]] = {
    "philox": philox_outputs,
    "svi": svi_outputs,
    "portfolio": portfolio_outputs,
    "montecarlo": montecarlo_outputs,
}


def digest(data: bytes) -> str:
    """Hex SHA-256 of a producer's bytes: the golden value pinned in the tests."""
    return hashlib.sha256(data).hexdigest()


def interpreted_output(name: str) -> bytes:
    """Run producer ``name`` in a fresh interpreter with the JIT disabled; return its bytes."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    code = (
        "import sys; from tests.pricing.determinism_grids import PRODUCERS; "
        f"sys.stdout.buffer.write(PRODUCERS[{name!r}]())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, check=True
    )
    return done.stdout


if __name__ == "__main__":
    # `python -m tests.pricing.determinism_grids` prints the digests to pin after a deliberate
    # change of a kernel or of pricing.dmath.
    for producer_name, producer in PRODUCERS.items():
        print(producer_name, digest(producer()))
