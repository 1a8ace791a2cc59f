"""Pricing benchmark: Optio's kernels against py_vollib_vectorized, vollib and QuantLib, in one run.

Measures, on one pinned core, options per second for price + 5 Greeks (delta, gamma, vega,
theta, rho) and for implied volatility, with the same random Black-76 inputs for every library,
then portfolio-margin revaluation: one 100-position account on the default grid, and 10,000
such accounts. Prints a table, then as its last line one JSON object (keys: bench/README.md).

Peers: vollib and QuantLib come from the ``bench`` extra of pyproject.toml. py_vollib_vectorized
0.1.1 only works with py_lets_be_rational 1.0.1, whose files clash with vollib's dependency, so
this script builds a pinned venv for it under .tools/ on first use (same NumPy and Numba as
ours) and runs its half of the measurement in a subprocess pinned to the same core.

Timing: ``time.perf_counter`` around each call after a warm-up call (JIT compilation excluded);
the best of ``repeats`` runs is reported for throughput, the median for per-account latency.

Usage: python bench/pricing.py [--quick] [--skip-pvv]
"""

import os

# Single-threaded everything, before NumPy / Numba load: the figures are per core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PVV_VENV = REPO / ".tools" / "pvv-venv"
PVV_PINS = [
    "py_vollib_vectorized==0.1.1",
    "py_vollib==1.0.1",
    "py_lets_be_rational==1.0.1",
    "pandas==3.1.1",
    "scipy==1.17.1",
]
SEED = 20261121


def pin_to_one_core() -> str:
    """Pin this process to CPU 0 (inherited by subprocesses); say what happened."""
    try:
        os.sched_setaffinity(0, {0})
        return "pinned to CPU 0"
    except (AttributeError, OSError) as exc:
        return f"not pinned ({exc})"


def make_inputs(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Black-76 inputs: F = 100, strikes within +/-50% log-moneyness, 1 week to 2 years, vols 10-150%."""
    rng = np.random.default_rng(seed)
    return {
        "forward": np.full(n, 100.0),
        "strike": 100.0 * np.exp(rng.uniform(-0.5, 0.5, n)),
        "t": rng.uniform(7.0 / 365.0, 2.0, n),
        "sigma": rng.uniform(0.1, 1.5, n),
        "r": np.full(n, 0.03),
        "is_call": rng.random(n) < 0.5,
    }


def make_iv_inputs(n: int, seed: int = SEED + 1) -> dict[str, np.ndarray]:
    """Well-posed implied-vol problems, the same for every library: out-of-the-money options
    (calls above the forward, puts below) within two standard deviations of the forward, so
    the price carries enough time value for every solver to accept it."""
    x = make_inputs(4 * n, seed)
    x["is_call"] = x["strike"] >= x["forward"]
    keep = np.abs(np.log(x["strike"] / x["forward"])) <= 2.0 * x["sigma"] * np.sqrt(x["t"])
    picked = {key: val[keep][:n] for key, val in x.items()}
    if picked["strike"].shape[0] != n:
        raise RuntimeError("not enough well-posed implied-vol problems drawn")
    return picked


def best_rate(fn: Callable[[], object], n: int, repeats: int) -> float:
    """Options per second: n over the fastest of ``repeats`` timed calls, after one warm-up."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


# ---- Optio ----


def bench_optio(n: int, repeats: int) -> dict[str, float]:
    from pricing.black import black76_greeks, black76_price
    from pricing.iv import black76_iv

    x = make_inputs(n)
    args = (x["forward"], x["strike"], x["t"], x["sigma"], x["r"], x["is_call"])
    y = make_iv_inputs(n)
    iv_args = (optio_prices(y), y["forward"], y["strike"], y["t"], y["r"], y["is_call"])
    return {
        "optio_greeks_per_s": best_rate(lambda: black76_greeks(*args), n, repeats),
        "optio_iv_per_s": best_rate(lambda: black76_iv(*iv_args), n, repeats),
    }


def optio_prices(x: dict[str, np.ndarray]) -> np.ndarray:
    from pricing.black import black76_price

    return np.asarray(black76_price(x["forward"], x["strike"], x["t"], x["sigma"], x["r"], x["is_call"]))


# ---- py_vollib_vectorized (runs inside its own venv) ----


def bench_pvv_inside(n: int, repeats: int) -> dict[str, float]:
    import py_vollib_vectorized as pvv

    x = make_inputs(n)
    flag = np.where(x["is_call"], "c", "p")
    f, k, t, r, s = x["forward"], x["strike"], x["t"], x["r"], x["sigma"]

    def greeks() -> None:
        pvv.vectorized_black(flag, f, k, t, r, s, return_as="numpy")
        pvv.get_all_greeks(flag, f, k, t, r, s, model="black", return_as="dict")

    y = make_iv_inputs(n)
    y_flag = np.where(y["is_call"], "c", "p")
    y_f, y_k, y_t, y_r = y["forward"], y["strike"], y["t"], y["r"]
    prices = pvv.vectorized_black(y_flag, y_f, y_k, y_t, y_r, y["sigma"], return_as="numpy")

    def ivs() -> None:
        pvv.vectorized_implied_volatility_black(prices, y_f, y_k, y_r, y_t, y_flag, return_as="numpy")

    return {
        "pvv_greeks_per_s": best_rate(greeks, n, repeats),
        "pvv_iv_per_s": best_rate(ivs, n, repeats),
    }


def ensure_pvv_venv() -> Path:
    """Create .tools/pvv-venv with the pinned peer stack unless it is already there."""
    python = PVV_VENV / "bin" / "python"
    import numba

    pins = PVV_PINS + [f"numpy=={np.__version__}", f"numba=={numba.__version__}"]
    marker = PVV_VENV / "optio-pins.txt"
    if python.exists() and marker.exists() and marker.read_text() == "\n".join(pins):
        return python
    print(f"[setup] creating {PVV_VENV} for py_vollib_vectorized ({', '.join(pins)})", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PVV_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    marker.write_text("\n".join(pins))
    return python


def bench_pvv(n: int, repeats: int) -> dict[str, float]:
    python = ensure_pvv_venv()
    done = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--pvv-inside", str(n), str(repeats)],
        check=True, capture_output=True, text=True, cwd=REPO,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- vollib (pure Python, one option at a time) ----


def bench_vollib(n: int, repeats: int) -> dict[str, float]:
    from vollib.black import black
    from vollib.black.greeks import analytical as g
    from vollib.black.implied_volatility import implied_volatility

    x = make_inputs(n)
    rows = list(
        zip(np.where(x["is_call"], "c", "p").tolist(), x["forward"].tolist(), x["strike"].tolist(),
            x["t"].tolist(), x["r"].tolist(), x["sigma"].tolist())
    )
    y = make_iv_inputs(n)
    iv_rows = list(
        zip(np.where(y["is_call"], "c", "p").tolist(), y["forward"].tolist(), y["strike"].tolist(),
            y["t"].tolist(), y["r"].tolist(), optio_prices(y).tolist())
    )

    def greeks() -> None:
        for flag, f, k, t, r, s in rows:
            black(flag, f, k, t, r, s)
            g.delta(flag, f, k, t, r, s)
            g.gamma(flag, f, k, t, r, s)
            g.vega(flag, f, k, t, r, s)
            g.theta(flag, f, k, t, r, s)
            g.rho(flag, f, k, t, r, s)

    def ivs() -> None:
        for flag, f, k, t, r, p in iv_rows:
            implied_volatility(p, f, k, r, t, flag)

    return {
        "vollib_greeks_per_s": best_rate(greeks, n, repeats),
        "vollib_iv_per_s": best_rate(ivs, n, repeats),
    }


# ---- QuantLib (C++ through SWIG, one option at a time) ----


def bench_quantlib(n: int, repeats: int) -> dict[str, float]:
    import QuantLib as ql

    x = make_inputs(n)
    rows = list(
        zip(x["is_call"].tolist(), x["forward"].tolist(), x["strike"].tolist(), x["t"].tolist(),
            x["r"].tolist(), x["sigma"].tolist())
    )
    y = make_iv_inputs(n)
    iv_rows = list(
        zip(y["is_call"].tolist(), y["forward"].tolist(), y["strike"].tolist(), y["t"].tolist(),
            y["r"].tolist(), optio_prices(y).tolist())
    )
    call, put = ql.Option.Call, ql.Option.Put

    def greeks() -> None:
        for is_call, f, k, t, r, s in rows:
            payoff = ql.PlainVanillaPayoff(call if is_call else put, k)
            calc = ql.BlackCalculator(payoff, f, s * math.sqrt(t), math.exp(-r * t))
            calc.value()
            calc.delta(f)
            calc.gamma(f)
            calc.vega(t)
            calc.theta(f, t)
            calc.rho(t)

    def ivs() -> None:
        for is_call, f, k, t, r, p in iv_rows:
            ql.blackFormulaImpliedStdDev(call if is_call else put, k, f, p, math.exp(-r * t)) / math.sqrt(t)

    return {
        "quantlib_greeks_per_s": best_rate(greeks, n, repeats),
        "quantlib_iv_per_s": best_rate(ivs, n, repeats),
    }


# ---- portfolio margin ----


def instrument_universe(rng: np.random.Generator) -> dict[str, Any]:
    """A Deribit-like listing on one underlying: 12 expiries x 40 strikes x call/put + 12 futures."""
    from pricing.portfolio import CALL, FUTURE, PUT
    from pricing.svi import SVISlice, SVISurface, surface_implied_vols

    expiries = np.array([1, 2, 7, 14, 21, 30, 60, 90, 120, 180, 270, 365]) / 365.0
    surface = SVISurface.from_slices(
        list(expiries),
        [SVISlice(0.005 + 0.2 * te, 0.05 + 0.1 * te, -0.3, 0.0, 0.1 + 0.1 * te) for te in expiries],
    )
    strikes = 100.0 * np.exp(np.linspace(-0.6, 0.6, 40))
    kind, strike, expiry = [], [], []
    for te in expiries:
        for k in strikes:
            kind += [CALL, PUT]
            strike += [k, k]
            expiry += [te, te]
        kind.append(FUTURE)
        strike.append(0.0)
        expiry.append(te)
    strike_a, expiry_a = np.array(strike), np.array(expiry)
    forward = 100.0 * np.exp(0.03 * expiry_a)
    # Futures have no strike or vol of their own; any positive placeholder keeps the lookup valid.
    lookup_strike = np.where(strike_a > 0.0, strike_a, 100.0)
    vol = surface_implied_vols(surface, forward, lookup_strike, np.maximum(expiry_a, 1e-6))
    return {"kind": np.array(kind), "strike": strike_a, "expiry": expiry_a, "forward": forward, "vol": vol}


def median_us(fn: Callable[[], object], repeats: int) -> float:
    """Median latency of ``fn`` in microseconds, after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return float(np.median(samples)) * 1e6


def bench_portfolio(n_accounts: int, account_repeats: int, full_reprice_accounts: int) -> dict[str, float]:
    from pricing.portfolio import (
        ScenarioGrid,
        instrument_pnl_vectors,
        revalue_account,
        revalue_account_on_vectors,
        revalue_accounts,
    )

    grid = ScenarioGrid()
    rng = np.random.default_rng(SEED)
    universe = instrument_universe(rng)
    n_inst = universe["kind"].shape[0]
    pick = rng.choice(n_inst, 100, replace=False)
    account: dict[str, Any] = {key: val[pick] for key, val in universe.items()}
    qty = np.asarray(rng.integers(-50, 51, 100))

    account_us = median_us(lambda: revalue_account(grid, qty=qty, **account), account_repeats)
    vectors = instrument_pnl_vectors(grid, **universe)
    cached_us = median_us(lambda: revalue_account_on_vectors(grid, vectors, pick, qty), account_repeats)
    vectors_ms = median_us(lambda: instrument_pnl_vectors(grid, **universe), 20) / 1e3

    index = np.concatenate([rng.choice(n_inst, 100, replace=False) for _ in range(n_accounts)])
    offsets = np.arange(n_accounts + 1) * 100
    quantities = np.asarray(rng.integers(-50, 51, index.shape[0]))

    def all_accounts() -> None:
        vectors = instrument_pnl_vectors(grid, **universe)
        revalue_accounts(grid, vectors, offsets, index, quantities)

    batch_s = 1.0 / best_rate(all_accounts, 1, 3)

    full_n = min(n_accounts, full_reprice_accounts)
    rows = [{key: val[index[a * 100:(a + 1) * 100]] for key, val in universe.items()} for a in range(full_n)]
    qrows = [quantities[a * 100:(a + 1) * 100] for a in range(full_n)]
    start = time.perf_counter()
    for acct, q in zip(rows, qrows):
        revalue_account(grid, qty=q, **acct)
    full_s = (time.perf_counter() - start) * n_accounts / full_n
    return {
        "pm_account_us": account_us,
        "pm_account_cached_us": cached_us,
        "pm_instrument_vectors_ms": vectors_ms,
        "pm_10k_accounts_s": batch_s * 10_000 / n_accounts,
        "pm_10k_accounts_full_reprice_s": full_s * 10_000 / n_accounts,
        "pm_instruments": float(n_inst),
        "pm_scenarios": float(grid.n_scenarios),
    }


def bench_surface_and_mc(n_lookups: int, n_pairs: int) -> dict[str, float]:
    """SVI implied-vol lookups per second and Monte Carlo GBM paths per second (64 steps)."""
    from pricing.montecarlo import price_asian
    from pricing.svi import SVISlice, SVISurface, surface_implied_vols

    rng = np.random.default_rng(SEED)
    expiries = [1 / 365, 7 / 365, 30 / 365, 90 / 365, 180 / 365, 1.0]
    slices = [SVISlice(0.005 + 0.2 * te, 0.05, -0.3, 0.0, 0.1) for te in expiries]
    surface = SVISurface.from_slices(expiries, slices)
    strikes = 100.0 * np.exp(rng.uniform(-1.0, 1.0, n_lookups))
    ts = rng.uniform(1.0 / 365.0, 1.0, n_lookups)
    seed = bytes(range(32))
    return {
        "svi_vols_per_s": best_rate(lambda: surface_implied_vols(surface, 100.0, strikes, ts), n_lookups, 3),
        "mc_paths_per_s": best_rate(
            lambda: price_asian(seed, True, 100.0, 100.0, 1.0, 0.5, 0.03, 0.0, 64, n_pairs), 2 * n_pairs, 3
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes; finishes in under 2 minutes")
    parser.add_argument(
        "--skip-pvv", action="store_true", help="do not build or run the py_vollib_vectorized venv"
    )
    parser.add_argument("--pvv-inside", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pvv_inside:
        pin_to_one_core()
        print(json.dumps(bench_pvv_inside(*args.pvv_inside)))
        return

    pinned = pin_to_one_core()
    if args.quick:
        n_fast, n_slow, repeats, account_repeats, full_reprice = 1_000_000, 5_000, 3, 300, 2_000
    else:
        n_fast, n_slow, repeats, account_repeats, full_reprice = 4_000_000, 20_000, 5, 2000, 10_000
    sys.path.insert(0, str(REPO))
    # Other work on the same core skews every figure; the load averages let a reader judge.
    results: dict[str, Any] = {"cpu": pinned, "load_avg_1m_start": os.getloadavg()[0]}
    results.update({"n_options": n_fast, "n_options_slow_peers": n_slow})
    results.update(bench_optio(n_fast, repeats))
    if args.skip_pvv:
        results.update({"pvv_greeks_per_s": float("nan"), "pvv_iv_per_s": float("nan")})
    else:
        try:
            results.update(bench_pvv(n_fast, repeats))
        except (OSError, subprocess.CalledProcessError) as exc:
            # Not measured is reported as such (null in the JSON), never replaced by a guess.
            print(f"[pvv] not measured: {exc}", file=sys.stderr)
            results.update({"pvv_greeks_per_s": float("nan"), "pvv_iv_per_s": float("nan")})
            results["pvv_error"] = str(exc)
    results.update(bench_vollib(n_slow, 1))
    results.update(bench_quantlib(n_slow, 2))
    results.update(bench_portfolio(10_000, account_repeats, full_reprice))
    results.update(bench_surface_and_mc(n_fast, 20_000))
    for peer in ("pvv", "vollib", "quantlib"):
        results[f"ratio_greeks_vs_{peer}"] = results["optio_greeks_per_s"] / results[f"{peer}_greeks_per_s"]
        results[f"ratio_iv_vs_{peer}"] = results["optio_iv_per_s"] / results[f"{peer}_iv_per_s"]

    print(f"{'library':<12}{'price+5 Greeks /s':>20}{'implied vol /s':>18}")
    for lib in ("optio", "pvv", "vollib", "quantlib"):
        print(f"{lib:<12}{results[f'{lib}_greeks_per_s']:>20,.0f}{results[f'{lib}_iv_per_s']:>18,.0f}")
    for peer in ("pvv", "vollib", "quantlib"):
        greeks_x, iv_x = results[f"ratio_greeks_vs_{peer}"], results[f"ratio_iv_vs_{peer}"]
        print(f"optio / {peer:<9} Greeks x{greeks_x:.1f}   IV x{iv_x:.1f}")
    print(f"portfolio margin, {int(results['pm_scenarios'])} scenarios, {pinned}:")
    print(f"  one 100-position account, every position repriced: {results['pm_account_us']:.1f} us (median)")
    print(f"  one 100-position account on cached instrument vectors: {results['pm_account_cached_us']:.1f} us")
    print(f"  vectors of all {int(results['pm_instruments'])} instruments: {results['pm_instrument_vectors_ms']:.2f} ms")
    print(f"  10,000 accounts incl. the vectors: {results['pm_10k_accounts_s']:.3f} s; "
          f"repricing every position of every account: {results['pm_10k_accounts_full_reprice_s']:.2f} s")
    results["load_avg_1m_end"] = os.getloadavg()[0]
    print(f"SVI implied-vol lookups: {results['svi_vols_per_s']:,.0f}/s; "
          f"Monte Carlo GBM paths (64 steps, antithetic): {results['mc_paths_per_s']:,.0f}/s")
    print(json.dumps({k: None if isinstance(v, float) and math.isnan(v) else v for k, v in results.items()}))


if __name__ == "__main__":
    main()
