"""Slow, readable Monte Carlo with the standard library: the reference for pricing/montecarlo.py.

It shares only the published Philox definition (``naive_philox``) and the documented counter
layout with the kernel; normals come from ``statistics.NormalDist.inv_cdf`` and paths from math.exp.
"""

import math
from statistics import NormalDist

from pricing.philox import derive_key
from tests.pricing.naive_philox import philox4x32_10


def normals(seed: bytes, pair: int, n_steps: int) -> list[float]:
    """Normals for one path pair: step j uses word j % 4 of the block with counter (j // 4, pair, c2, c3)."""
    k0, k1, c2, c3 = derive_key(seed)
    out = []
    for block in range((n_steps + 3) // 4):
        for word in philox4x32_10([block, pair, c2, c3], [k0, k1]):
            out.append(NormalDist().inv_cdf((word + 0.5) / 2.0**32))
    return out[:n_steps]


def payoff(style: str, is_call: bool, strike: float, barrier: float, path: list[float]) -> float:
    underlying = sum(path) / len(path) if style == "asian" else path[-1]
    value = max(underlying - strike if is_call else strike - underlying, 0.0)
    if style == "asian":
        return value
    hit = any(s >= barrier for s in path) if style.startswith("up") else any(s <= barrier for s in path)
    knocked_in = style.endswith("in")
    return value if hit == knocked_in else 0.0


def price(style, seed, is_call, spot, strike, barrier, t, vol, rate, div_yield, n_steps, n_pairs):
    """(discounted mean, standard error) of the antithetic pair averages."""
    dt = t / n_steps
    drift = (rate - div_yield - vol * vol / 2) * dt
    pair_values = []
    for p in range(n_pairs):
        z = normals(seed, p, n_steps)
        values = []
        for sign in (1.0, -1.0):
            x, path = 0.0, []
            for zj in z:
                x += drift + sign * vol * math.sqrt(dt) * zj
                path.append(spot * math.exp(x))
            values.append(payoff(style, is_call, strike, barrier, path))
        pair_values.append((values[0] + values[1]) / 2)
    mean = sum(pair_values) / n_pairs
    var = sum((y - mean) ** 2 for y in pair_values) / (n_pairs - 1)
    df = math.exp(-rate * t)
    return df * mean, df * math.sqrt(var / n_pairs)
