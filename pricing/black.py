"""Black-76 and Black-Scholes-Merton prices and Greeks for European calls and puts.

Conventions (both models; T in years, rates and vols per year, continuously compounded):
- Black-76 prices an option on a forward/future F: V = e^{-rT}·[F·N(d1) − K·N(d2)] (call).
  delta/gamma are with respect to F; rho is ∂V/∂r with F held fixed (= −T·V).
- BSM prices an option on a spot S paying a continuous yield q:
  V = S·e^{-qT}·N(d1) − K·e^{-rT}·N(d2) (call); delta/gamma with respect to S; rho is
  ∂V/∂r with q held fixed.
- vega is ∂V/∂σ per 1.00 of vol (divide by 100 for "per vol point"); theta is −∂V/∂T per
  year (``theta_per_day`` divides by 365); rho is per 1.00 of rate.
Black-76 is BSM with q = r and S = F except for rho, so one kernel serves both. Puts use
N(−d) rather than 1 − N(d), and when the nearer normal tail lies beyond 8 standard
deviations the price is taken from ``dmath.gaussian_tail_gap``, so deep out-of-the-money
prices keep their relative accuracy instead of cancelling F·N(d1) against K·N(d2).

Degenerate inputs take their limits: when σ·√T = 0 the option is worth its discounted
intrinsic value on the forward, N(d1) and N(d2) become 1, 0 or ½ (forward above, below or
at the strike), gamma is 0 off the strike and +inf at it, vega is S·e^{-qT}·φ(0)·√T at the
strike and 0 elsewhere, and the time-decay term of theta is −inf at the strike when T = 0
with σ > 0. Public functions validate and broadcast their inputs and return floats for
scalar inputs, arrays otherwise; the ``_kernel`` functions are the consensus code.
"""

from typing import NamedTuple

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

_INV_SQRT_2PI = 0.3989422804014327
DAYS_PER_YEAR = 365.0


class Greeks(NamedTuple):
    """Price and first-order sensitivities (plus gamma); floats or float64 arrays."""

    price: np.ndarray | float
    delta: np.ndarray | float
    gamma: np.ndarray | float
    vega: np.ndarray | float
    theta: np.ndarray | float
    rho: np.ndarray | float


@njit(**JIT_INLINE)
def _probabilities(x: float, v: float, w: float) -> tuple[float, float, float]:
    """(N(w·d1), N(w·d2), φ(d1)) for log-moneyness x = ln(F/K), total vol v = σ√T, w = ±1.

    w = −1 (puts) evaluates N(−d) directly rather than 1 − N(d), which keeps relative
    accuracy for out-of-the-money puts. With v = 0 these are the limits as v → 0:
    d1, d2 → ±inf off the strike and 0 at it.
    """
    if v > 0.0:
        d1 = x / v + 0.5 * v
        n1, pdf1 = norm_cdf_and_pdf(w * d1)
        return n1, norm_cdf(w * (d1 - v)), pdf1
    if w * x > 0.0:
        return 1.0, 1.0, 0.0
    if w * x < 0.0:
        return 0.0, 0.0, 0.0
    return 0.5, 0.5, _INV_SQRT_2PI


@njit(**JIT_INLINE)
def _price_from(
    x: float, v: float, w: float, spot_leg: float, strike_leg: float, n1: float, n2: float
) -> float:
    """w·(spot_leg·N(w·d1) − strike_leg·N(w·d2)), cancellation-free when deep out of the money.

    The leg whose tail is nearer is the spot leg for calls (z = −d1) and the strike leg for
    puts (z = d2); the other tail is at z + v. Beyond TAIL_GAP_THRESHOLD the difference is
    taken by ``gaussian_tail_gap`` (see there).
    """
    if v > 0.0:
        d1 = x / v + 0.5 * v
        near = -d1 if w > 0.0 else d1 - v
        if near >= TAIL_GAP_THRESHOLD:
            lead = spot_leg if w > 0.0 else strike_leg
            return lead * gaussian_tail_gap(near, v)
    return w * (spot_leg * n1 - strike_leg * n2)


@njit(**JIT_INLINE)
def _greeks_one(
    u: float, k: float, t: float, sigma: float, r: float, q: float, is_call: bool, forward: bool
) -> tuple[float, float, float, float, float, float]:
    """(price, delta, gamma, vega, theta, rho) of one option; ``forward`` selects Black-76 rho.

    u is the spot (BSM) or the forward (Black-76, called with q = r). Calls and puts share
    one formula with w = ±1: V = w·(u·e^{-qT}·N(w·d1) − K·e^{-rT}·N(w·d2)).
    """
    w = 1.0 if is_call else -1.0
    df = exp(-r * t)
    du = df if q == r else exp(-q * t)
    sqrt_t = sqrt(t)
    v = sigma * sqrt_t
    x = log(u / k) + (r - q) * t
    n1, n2, pdf1 = _probabilities(x, v, w)
    spot_leg = u * du
    strike_leg = k * df
    price = _price_from(x, v, w, spot_leg, strike_leg, n1, n2)
    vega = spot_leg * pdf1 * sqrt_t
    if v > 0.0:
        # Two divisions rather than one by u·v, which could underflow to 0.
        gamma = du * pdf1 / u / v
        decay = spot_leg * pdf1 * sigma / (2.0 * sqrt_t)
    elif x == 0.0:
        gamma = np.inf
        decay = np.inf if sigma > 0.0 else 0.0
    else:
        gamma = 0.0
        decay = 0.0
    delta = w * du * n1
    theta = w * (q * spot_leg * n1 - r * strike_leg * n2) - decay
    rho = -t * price if forward else w * t * strike_leg * n2
    return price, delta, gamma, vega, theta, rho


@njit(**JIT_INLINE)
def _price_one(
    u: float, k: float, t: float, sigma: float, r: float, q: float, is_call: bool
) -> float:
    """Price only: the same operations, hence bits, as the price of ``_greeks_one``."""
    w = 1.0 if is_call else -1.0
    df = exp(-r * t)
    du = df if q == r else exp(-q * t)
    v = sigma * sqrt(t)
    x = log(u / k) + (r - q) * t
    spot_leg = u * du
    strike_leg = k * df
    if v > 0.0:
        # The tails are not needed when _price_from takes its deep out-of-the-money branch.
        n1 = n2 = 0.0
        d1 = x / v + 0.5 * v
        near = -d1 if w > 0.0 else d1 - v
        if near < TAIL_GAP_THRESHOLD:
            n1 = norm_cdf(w * d1)
            n2 = norm_cdf(w * (d1 - v))
    else:
        n1, n2, _ = _probabilities(x, v, w)
    return _price_from(x, v, w, spot_leg, strike_leg, n1, n2)


@njit(**JIT)
def _greeks_kernel(
    u: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    sigma: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    is_call: np.ndarray,
    forward: bool,
    out: np.ndarray,
) -> None:
    """Fills out[0..5, i] with price, delta, gamma, vega, theta, rho of option i."""
    for i in range(u.shape[0]):
        p, d, g, ve, th, rh = _greeks_one(u[i], k[i], t[i], sigma[i], r[i], q[i], is_call[i], forward)
        out[0, i] = p
        out[1, i] = d
        out[2, i] = g
        out[3, i] = ve
        out[4, i] = th
        out[5, i] = rh


@njit(**JIT)
def _price_kernel(
    u: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    sigma: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    is_call: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fills out[i] with the price of option i."""
    for i in range(u.shape[0]):
        out[i] = _price_one(u[i], k[i], t[i], sigma[i], r[i], q[i], is_call[i])


def _greeks(prep: Prepared, forward: bool) -> Greeks:
    u, k, t, sigma, r, q = prep.arrays
    out = np.empty((6, u.shape[0]), dtype=np.float64)
    _greeks_kernel(u, k, t, sigma, r, q, prep.flags, forward, out)
    return Greeks(*(prep.result(row) for row in out))


def _prices(prep: Prepared) -> np.ndarray | float:
    u, k, t, sigma, r, q = prep.arrays
    out = np.empty(u.shape[0], dtype=np.float64)
    _price_kernel(u, k, t, sigma, r, q, prep.flags, out)
    return prep.result(out)


def _black76_inputs(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike,
    is_call: ArrayLike,
) -> Prepared:
    """Validated Black-76 inputs, with r repeated as the yield q (see module docstring)."""
    prep = prepare(("forward", "strike", "t", "sigma", "r"), (forward, strike, t, sigma, r), is_call)
    _check_domain(prep)
    prep.arrays.append(prep.arrays[4])
    return prep


def _bsm_inputs(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> Prepared:
    prep = prepare(("spot", "strike", "t", "sigma", "r", "q"), (spot, strike, t, sigma, r, q), is_call)
    _check_domain(prep)
    return prep


def _check_domain(prep: Prepared) -> None:
    underlying, strike, t, sigma = prep.arrays[:4]
    require_positive("underlying (forward or spot)", underlying)
    require_positive("strike", strike)
    require_non_negative("time to expiry t", t)
    require_non_negative("sigma", sigma)


def black76_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Black-76 price and Greeks; array-likes broadcast together, is_call is bool."""
    return _greeks(_black76_inputs(forward, strike, t, sigma, r, is_call), True)


def black76_price(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray | float:
    """Black-76 price; array-likes broadcast together, is_call is bool."""
    return _prices(_black76_inputs(forward, strike, t, sigma, r, is_call))


def bsm_greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Black-Scholes-Merton price and Greeks (continuous yield q)."""
    return _greeks(_bsm_inputs(spot, strike, t, sigma, r, q, is_call), False)


def bsm_price(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike,
    q: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray | float:
    """Black-Scholes-Merton price (continuous yield q)."""
    return _prices(_bsm_inputs(spot, strike, t, sigma, r, q, is_call))


def theta_per_day(theta_per_year: np.ndarray | float) -> np.ndarray | float:
    """Theta per calendar day (365 per year) from the per-year theta the kernels return."""
    return theta_per_year / DAYS_PER_YEAR
