"""Slow, readable reference implementations the pricing kernels are tested against.

Everything here is textbook formulas evaluated in mpmath at 120 bits, so the references
are accurate far beyond double precision; nothing here is fast or used by the chain.
"""

from dataclasses import dataclass

import mpmath as mp

PRECISION_BITS = 120


def exp(x: float) -> mp.mpf:
    with mp.workprec(PRECISION_BITS):
        return mp.exp(mp.mpf(x))


def log(x: float) -> mp.mpf:
    with mp.workprec(PRECISION_BITS):
        return mp.log(mp.mpf(x))


def norm_cdf(x: float) -> mp.mpf:
    with mp.workprec(PRECISION_BITS):
        return mp.ncdf(mp.mpf(x))


def norm_pdf(x: float) -> mp.mpf:
    with mp.workprec(PRECISION_BITS):
        return mp.npdf(mp.mpf(x))


def gaussian_tail_gap(z: float, s: float) -> mp.mpf:
    """exp(−z²/2)·(M(z) − M(z + s)) with M(v) = Q(v)·exp(v²/2), straight from the definition."""
    with mp.workprec(200):
        z_, s_ = mp.mpf(z), mp.mpf(s)

        def scaled_tail(v: mp.mpf) -> mp.mpf:
            return mp.ncdf(-v) * mp.exp(v * v / 2)

        return mp.exp(-z_ * z_ / 2) * (scaled_tail(z_) - scaled_tail(z_ + s_))


@dataclass(frozen=True)
class ReferenceGreeks:
    price: float
    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float


def black_greeks(
    u: float, k: float, t: float, sigma: float, r: float, q: float, is_call: bool, forward: bool
) -> ReferenceGreeks:
    """Generalized Black price and Greeks for σ > 0, T > 0.

    BSM: u = spot, yield q. Black-76: u = forward, q = r, and rho is ∂V/∂r with the forward
    held fixed (``forward=True``).
    """
    with mp.workprec(PRECISION_BITS):
        u, k, t, sigma, r, q = (mp.mpf(v) for v in (u, k, t, sigma, r, q))
        sqrt_t = mp.sqrt(t)
        d1 = (mp.log(u / k) + (r - q + sigma**2 / 2) * t) / (sigma * sqrt_t)
        d2 = d1 - sigma * sqrt_t
        df_r = mp.exp(-r * t)
        df_q = mp.exp(-q * t)
        n = mp.ncdf
        pdf = mp.npdf(d1)
        if is_call:
            price = u * df_q * n(d1) - k * df_r * n(d2)
            delta = df_q * n(d1)
            theta = -u * df_q * pdf * sigma / (2 * sqrt_t) + q * u * df_q * n(d1) - r * k * df_r * n(d2)
            rho = k * t * df_r * n(d2)
        else:
            price = k * df_r * n(-d2) - u * df_q * n(-d1)
            delta = -df_q * n(-d1)
            theta = -u * df_q * pdf * sigma / (2 * sqrt_t) - q * u * df_q * n(-d1) + r * k * df_r * n(-d2)
            rho = -k * t * df_r * n(-d2)
        if forward:
            rho = -t * price
        gamma = df_q * pdf / (u * sigma * sqrt_t)
        vega = u * df_q * pdf * sqrt_t
        return ReferenceGreeks(*(float(v) for v in (price, delta, gamma, vega, theta, rho)))


def black_price(
    u: float, k: float, t: float, sigma: float, r: float, q: float, is_call: bool
) -> mp.mpf:
    """The price alone, at full mpmath precision (for implied-vol references)."""
    with mp.workprec(PRECISION_BITS):
        u, k, t, sigma, r, q = (mp.mpf(v) for v in (u, k, t, sigma, r, q))
        v = sigma * mp.sqrt(t)
        d1 = (mp.log(u / k) + (r - q) * t) / v + v / 2
        d2 = d1 - v
        if is_call:
            return u * mp.exp(-q * t) * mp.ncdf(d1) - k * mp.exp(-r * t) * mp.ncdf(d2)
        return k * mp.exp(-r * t) * mp.ncdf(-d2) - u * mp.exp(-q * t) * mp.ncdf(-d1)


def implied_vol(
    price: float, u: float, k: float, t: float, r: float, q: float, is_call: bool
) -> float:
    """σ with black_price(σ) = price, by bisection in mpmath (price monotone in σ)."""
    with mp.workprec(PRECISION_BITS):
        target = mp.mpf(price)
        lo, hi = mp.mpf(0), mp.mpf(1)
        while black_price(u, k, t, hi, r, q, is_call) < target:
            hi *= 2
        for _ in range(90):
            mid = (lo + hi) / 2
            if black_price(u, k, t, mid, r, q, is_call) < target:
                lo = mid
            else:
                hi = mid
        return float((lo + hi) / 2)
