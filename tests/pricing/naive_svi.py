"""Slow, readable SVI surface evaluation with the standard library: the reference for pricing/svi.py."""

import math


def slice_total_variance(params: tuple[float, float, float, float, float], k: float) -> float:
    a, b, rho, m, sigma = params
    return a + b * (rho * (k - m) + math.sqrt((k - m) ** 2 + sigma**2))


def surface_total_variance(expiries: list[float], params: list[tuple], k: float, t: float) -> float:
    """Linear in T between expiries; w proportional to T outside them (flat implied vol)."""
    if t <= expiries[0]:
        return slice_total_variance(params[0], k) * t / expiries[0]
    if t >= expiries[-1]:
        return slice_total_variance(params[-1], k) * t / expiries[-1]
    for i in range(len(expiries) - 1):
        t0, t1 = expiries[i], expiries[i + 1]
        if t0 <= t <= t1:
            w0 = slice_total_variance(params[i], k)
            w1 = slice_total_variance(params[i + 1], k)
            return w0 + (w1 - w0) * (t - t0) / (t1 - t0)
    raise AssertionError("unreachable: expiries are sorted")


def implied_vol(expiries: list[float], params: list[tuple], forward: float, strike: float, t: float) -> float:
    return math.sqrt(surface_total_variance(expiries, params, math.log(strike / forward), t) / t)
