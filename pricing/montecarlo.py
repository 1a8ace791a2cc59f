"""Monte Carlo prices of path-dependent options under GBM, reproducible bit for bit from a 32-byte seed.

Payoffs: arithmetic-average Asian calls/puts and discretely monitored barrier calls/puts
(up/down, in/out), on a spot following geometric Brownian motion with rate r and yield q,
observed on ``n_steps`` equal steps up to expiry (the Asian average is over those observations,
the barrier is checked at each of them).

Randomness is Philox4x32-10 (``pricing.philox``), counter-based: the normal driving step j of
path pair p comes from word j % 4 of the block with counter (j // 4, p, c2, c3) under the key
derived from the seed. Any path can therefore be recomputed alone, and runs with more pairs
extend runs with fewer. Uniforms become normals through ``norm_ppf`` (Acklam's rational
approximation polished by one Halley step on ``dmath.norm_cdf``), so everything is built from
+ - * / sqrt and the deterministic math core. Uniforms have 32-bit resolution, so |Z| stays
below 6.34; the normal mass beyond (2e-10) is far under any Monte Carlo error. Each pair uses
Z and -Z (antithetic variates); the standard error is computed from the pair averages, which
are independent.
"""

from dataclasses import dataclass

import numpy as np
from numba import njit

from pricing.config import JIT
from pricing.dmath import exp, log, norm_cdf
from pricing.philox import derive_key, philox4x32_10, uniform_from_word

ASIAN = 0
UP_AND_OUT = 1
UP_AND_IN = 2
DOWN_AND_OUT = 3
DOWN_AND_IN = 4
_BARRIER_STYLES = {
    "up-and-out": UP_AND_OUT,
    "up-and-in": UP_AND_IN,
    "down-and-out": DOWN_AND_OUT,
    "down-and-in": DOWN_AND_IN,
}

_MAX_WORD = 2**32
_SQRT_2PI = 2.5066282746310002

# Acklam's inverse-normal rational approximation (relative error < 1.2e-9 before polishing).
_A = np.array([-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
               1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00])
_B = np.array([-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
               6.680131188771972e01, -1.328068155288572e01])
_C = np.array([-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
               -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00])
_D = np.array([7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
               3.754408661907416e00])
_P_LOW = 0.02425


@dataclass(frozen=True, slots=True)
class MCResult:
    """Discounted price estimate, its standard error, and the number of paths (2 per pair)."""

    price: float
    std_error: float
    n_paths: int


@njit(**JIT)
def _lower_half_ppf(p: float) -> float:
    """Inverse normal CDF for 0 < p <= 1/2."""
    if p < _P_LOW:
        q = np.sqrt(-2.0 * log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    else:
        q = p - 0.5
        r = q * q
        x = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / (
            ((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0
        )
    # One Halley step on Phi(x) = p lifts the 1e-9 approximation to near full precision; in the
    # lower half Phi(x) is tiny where p is, so the residual keeps its relative accuracy.
    e = norm_cdf(x) - p
    u = e * _SQRT_2PI * exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


@njit(**JIT)
def norm_ppf(p: float) -> float:
    """Inverse of the standard normal CDF for 0 < p < 1, odd about 1/2 by construction."""
    if p > 0.5:
        # 1 - p is exact for p in [1/2, 1), so the upper half mirrors the lower one exactly.
        return -_lower_half_ppf(1.0 - p)
    return _lower_half_ppf(p)


@njit(**JIT)
def _norm_ppf_many(p: np.ndarray, out: np.ndarray) -> None:
    for i in range(p.shape[0]):
        out[i] = norm_ppf(p[i])


@njit(**JIT)
def _payoff(style: int, is_call: bool, strike: float, avg: float, last: float, hit: bool) -> float:
    underlying = avg if style == ASIAN else last
    value = underlying - strike if is_call else strike - underlying
    if value < 0.0:
        value = 0.0
    if style == UP_AND_OUT or style == DOWN_AND_OUT:
        return 0.0 if hit else value
    if style == UP_AND_IN or style == DOWN_AND_IN:
        return value if hit else 0.0
    return value


@njit(**JIT)
def _simulate(
    style: int,
    is_call: bool,
    spot: float,
    strike: float,
    barrier: float,
    t: float,
    vol: float,
    rate: float,
    div_yield: float,
    n_steps: int,
    n_pairs: int,
    k0: np.uint64,
    k1: np.uint64,
    c2: np.uint64,
    c3: np.uint64,
) -> tuple[float, float]:
    """(discounted mean, standard error) over n_pairs antithetic pairs."""
    dt = t / n_steps
    drift = (rate - div_yield - 0.5 * vol * vol) * dt
    step_sd = vol * np.sqrt(dt)
    up = style == UP_AND_OUT or style == UP_AND_IN
    mean = 0.0
    m2 = 0.0
    z = np.empty(4)
    for p in range(n_pairs):
        x_plus = 0.0
        x_minus = 0.0
        sum_plus = 0.0
        sum_minus = 0.0
        s_plus = spot
        s_minus = spot
        hit_plus = False
        hit_minus = False
        for j in range(n_steps):
            if j % 4 == 0:
                w0, w1, w2, w3 = philox4x32_10(np.uint64(j // 4), np.uint64(p), c2, c3, k0, k1)
                z[0] = norm_ppf(uniform_from_word(w0))
                z[1] = norm_ppf(uniform_from_word(w1))
                z[2] = norm_ppf(uniform_from_word(w2))
                z[3] = norm_ppf(uniform_from_word(w3))
            shock = step_sd * z[j % 4]
            x_plus += drift + shock
            x_minus += drift - shock
            s_plus = spot * exp(x_plus)
            s_minus = spot * exp(x_minus)
            sum_plus += s_plus
            sum_minus += s_minus
            if up:
                hit_plus = hit_plus or s_plus >= barrier
                hit_minus = hit_minus or s_minus >= barrier
            else:
                hit_plus = hit_plus or s_plus <= barrier
                hit_minus = hit_minus or s_minus <= barrier
        pay_plus = _payoff(style, is_call, strike, sum_plus / n_steps, s_plus, hit_plus)
        pay_minus = _payoff(style, is_call, strike, sum_minus / n_steps, s_minus, hit_minus)
        y = 0.5 * (pay_plus + pay_minus)
        # Welford's running mean and sum of squared deviations, in pair order.
        delta = y - mean
        mean += delta / (p + 1)
        m2 += delta * (y - mean)
    df = exp(-rate * t)
    return df * mean, df * np.sqrt(m2 / (n_pairs - 1) / n_pairs)


def norm_ppf_array(p: np.ndarray) -> np.ndarray:
    """Element-wise inverse normal CDF of values in (0, 1)."""
    arr = np.ascontiguousarray(np.atleast_1d(np.asarray(p, dtype=np.float64)))
    if not np.all((arr > 0.0) & (arr < 1.0)):
        raise ValueError("probabilities must lie strictly between 0 and 1")
    out = np.empty_like(arr)
    _norm_ppf_many(arr, out)
    return out


def _run(
    style: int, seed: bytes, is_call: bool, spot: float, strike: float, barrier: float, t: float,
    vol: float, rate: float, div_yield: float, n_steps: int, n_pairs: int,
) -> MCResult:
    values = (spot, strike, barrier, t, vol, rate, div_yield)
    if not all(np.isfinite(v) for v in values):
        raise ValueError("inputs must be finite")
    if spot <= 0.0 or strike < 0.0 or t <= 0.0 or vol < 0.0:
        raise ValueError("spot and t must be positive, strike and vol non-negative")
    if not 1 <= n_steps < 4 * _MAX_WORD or not 2 <= n_pairs < _MAX_WORD:
        raise ValueError("need 1 <= n_steps < 2**34 and 2 <= n_pairs < 2**32")
    k0, k1, c2, c3 = derive_key(seed)
    price, se = _simulate(
        style, bool(is_call), float(spot), float(strike), float(barrier), float(t), float(vol),
        float(rate), float(div_yield), int(n_steps), int(n_pairs),
        np.uint64(k0), np.uint64(k1), np.uint64(c2), np.uint64(c3),
    )
    return MCResult(float(price), float(se), 2 * int(n_pairs))


def price_asian(
    seed: bytes, is_call: bool, spot: float, strike: float, t: float, vol: float,
    rate: float = 0.0, div_yield: float = 0.0, n_steps: int = 64, n_pairs: int = 50_000,
) -> MCResult:
    """Arithmetic-average Asian option on the ``n_steps`` observations S(t/n), ..., S(t)."""
    return _run(ASIAN, seed, is_call, spot, strike, 0.0, t, vol, rate, div_yield, n_steps, n_pairs)


def price_barrier(
    seed: bytes, is_call: bool, style: str, spot: float, strike: float, barrier: float, t: float,
    vol: float, rate: float = 0.0, div_yield: float = 0.0, n_steps: int = 64, n_pairs: int = 50_000,
) -> MCResult:
    """Barrier option monitored at each of the ``n_steps`` observations; ``style`` is one of
    "up-and-out", "up-and-in", "down-and-out", "down-and-in"."""
    if style not in _BARRIER_STYLES:
        raise ValueError(f"style must be one of {sorted(_BARRIER_STYLES)}")
    if not barrier > 0.0:
        raise ValueError("barrier must be positive")
    return _run(
        _BARRIER_STYLES[style], seed, is_call, spot, strike, barrier, t, vol, rate, div_yield, n_steps, n_pairs
    )
