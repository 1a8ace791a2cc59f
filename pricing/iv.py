"""Implied volatility from a Black-76 or BSM price, over the whole no-arbitrage domain.

Method (derived here; see docs/pricing.md). Undiscount the price (c = V·e^{rT}), take the
forward F, and move to the out-of-the-money call with the same time value: by put–call
parity and the symmetry b_put(x) = b_call(−x) every option becomes a normalized OTM call

    β = (c − max(w·(F − K), 0)) / √(F·K),   x = −|ln(F/K)| ≤ 0,
    b(s) = e^{x/2}·N(x/s + s/2) − e^{−x/2}·N(x/s − s/2),   s = σ√T,

and we solve b(s) = β for s. No-arbitrage bounds are 0 ≤ β < e^{x/2}; β = 0 means σ = 0.
We iterate Halley's method on g(s) = ln b(s) − ln β, with
g' = e^{x/2}·φ(d1)/b and g'' = g'·(d1·d2/s − g') (from ∂²b/∂s² = ∂b/∂s·d1·d2/s). The log
makes the deep out-of-the-money region, where b(s) ~ exp(−x²/2s²), nearly linear. The
start s0 = max(|x|/√(−2 ln β), √(2π)·β) is a lower bound of the root, because
b(s) ≤ exp(−x²/(2s²)) (Chernoff bound on N) and b(s) ≤ s/√(2π) (b is largest at x = 0,
where it is concave with slope 1/√(2π) at 0). A bracket [lo, hi] of evaluated points
guards every step: a step leaving it becomes a bisection (or a doubling while no upper
point is known), and b underflowing to 0 counts as "too small". Iteration stops when a
step moves s by at most 2^-40 relative — cubic convergence makes the last step's result
accurate to rounding — typically after 2–4 evaluations of b.
"""

from typing import Final

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from pricing.config import JIT, JIT_INLINE
from pricing.dmath import (
    TAIL_GAP_THRESHOLD,
    exp,
    gaussian_tail_gap,
    log,
    norm_cdf,
    norm_cdf_and_pdf,
    sqrt,
)
from pricing.inputs import Prepared, prepare, require_non_negative, require_positive

_SQRT_2PI = 2.5066282746310002
_STOP_STEP = 2.0**-40
_MAX_ITERATIONS = 100
_INTRINSIC_SLACK = 2.0**-49

#: Status codes written by the kernel for each input.
OK: Final = 0
BELOW_INTRINSIC: Final = 1
ABOVE_UPPER_BOUND: Final = 2
NOT_CONVERGED: Final = 3

_STATUS_TEXT = {
    BELOW_INTRINSIC: "price below intrinsic value e^{-rT}·max(±(F − K), 0)",
    ABOVE_UPPER_BOUND: "price at or above the upper bound e^{-rT}·F (call) or e^{-rT}·K (put)",
    NOT_CONVERGED: "implied-vol iteration did not converge",
}


@njit(**JIT_INLINE)
def _normalized_vol(beta: float, x: float) -> tuple[float, int]:
    """(s, status) solving b(s) = β for x ≤ 0, 0 < β < e^{x/2} (see module docstring)."""
    e_half = exp(0.5 * x)
    e_minus_half = exp(-0.5 * x)
    ln_beta = log(beta)
    s = -x / sqrt(-2.0 * ln_beta)
    s_atm = _SQRT_2PI * beta
    if s_atm > s:
        s = s_atm
    lo = 0.0
    hi = np.inf
    for _ in range(_MAX_ITERATIONS):
        d1 = x / s + 0.5 * s
        n1, pdf1 = norm_cdf_and_pdf(d1)
        if -d1 >= TAIL_GAP_THRESHOLD:
            b = e_half * gaussian_tail_gap(-d1, s)
        else:
            b = e_half * n1 - e_minus_half * norm_cdf(d1 - s)
        new = np.nan
        if b > 0.0:
            f = log(b) - ln_beta
            if f == 0.0:
                return s, OK
            if f < 0.0:
                lo = s
            else:
                hi = s
            g1 = e_half * pdf1 / b
            if g1 > 0.0:
                # Halley: s − h/(1 − h·g''/(2g')) with the Newton step h = g/g' and
                # g''/g' = d1·d2/s − g' (no division by a possibly tiny g'²).
                h = f / g1
                denominator = 1.0 - 0.5 * h * (d1 * (d1 - s) / s - g1)
                new = s - h / denominator if denominator > 0.0 else s - h
                if abs(new - s) <= _STOP_STEP * s:
                    return new, OK
        else:
            # b underflowed or lost to cancellation: s is certainly too small.
            lo = s
        # NaN (no usable step) also fails this test.
        if not (lo < new < hi):
            new = 0.5 * (lo + hi) if hi < np.inf else 2.0 * s
            if hi - lo <= _STOP_STEP * new:
                return new, OK
        s = new
    return s, NOT_CONVERGED


@njit(**JIT_INLINE)
def _iv_one(
    price: float, u: float, k: float, t: float, r: float, q: float, is_call: bool
) -> tuple[float, int]:
    """(σ, status) for one option; u is the spot (BSM) or the forward (Black-76, q = r)."""
    df = exp(-r * t)
    forward = u if q == r else u * exp((r - q) * t)
    c = price / df
    w = 1.0 if is_call else -1.0
    intrinsic = w * (forward - k)
    time_value = c - intrinsic if intrinsic > 0.0 else c
    if time_value < 0.0:
        # F and c carry rounding error of a few ulp of the larger of F and K; a price
        # that close to intrinsic is intrinsic (σ = 0), anything lower is an arbitrage.
        if time_value < -_INTRINSIC_SLACK * max(forward, k):
            return np.nan, BELOW_INTRINSIC
        time_value = 0.0
    x = log(forward / k)
    if x > 0.0:
        x = -x
    beta = time_value / sqrt(forward * k)
    if beta >= exp(0.5 * x):
        return np.nan, ABOVE_UPPER_BOUND
    if beta == 0.0:
        return 0.0, OK
    s, status = _normalized_vol(beta, x)
    return s / sqrt(t), status


@njit(**JIT)
def _iv_kernel(
    price: np.ndarray,
    u: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    is_call: np.ndarray,
    out: np.ndarray,
    status: np.ndarray,
) -> None:
    """Fills out[i] with the implied vol of option i and status[i] with its status code."""
    for i in range(price.shape[0]):
        vol, code = _iv_one(price[i], u[i], k[i], t[i], r[i], q[i], is_call[i])
        out[i] = vol
        status[i] = code


def _solve(prep: Prepared) -> np.ndarray | float:
    price, u, k, t, r, q = prep.arrays
    require_non_negative("price", price)
    require_positive("underlying (forward or spot)", u)
    require_positive("strike", k)
    require_positive("time to expiry t (a volatility needs time)", t)
    out = np.empty(price.shape[0], dtype=np.float64)
    status = np.empty(price.shape[0], dtype=np.int8)
    _iv_kernel(price, u, k, t, r, q, prep.flags, out, status)
    bad = np.flatnonzero(status != OK)
    if bad.size:
        first = int(bad[0])
        raise ValueError(
            f"no implied vol for {bad.size} input(s); first at flat index {first}: "
            f"{_STATUS_TEXT[int(status[first])]}"
        )
    return prep.result(out)


def black76_iv(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray | float:
    """Black-76 implied vol; raises ValueError for prices outside the no-arbitrage bounds."""
    names = ("price", "forward", "strike", "t", "r")
    prep = prepare(names, (price, forward, strike, t, r), is_call)
    prep.arrays.append(prep.arrays[4])
    return _solve(prep)


def bsm_iv(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray | float:
    """Black-Scholes-Merton implied vol; raises ValueError outside the no-arbitrage bounds."""
    names = ("price", "spot", "strike", "t", "r", "q")
    return _solve(prepare(names, (price, spot, strike, t, r, q), is_call))
