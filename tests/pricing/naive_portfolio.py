"""Slow, readable scenario revaluation with the standard library: the reference for pricing/portfolio.py.

Every position is priced directly (puts as puts) at each scenario with math.erfc, so it shares no
shortcut with the kernel (parity for puts, shared logarithms).
"""

import math

CALL, PUT, FUTURE = 0, 1, 2


def black76(is_call: bool, fwd: float, strike: float, t: float, vol: float, rate: float) -> float:
    df = math.exp(-rate * t)
    if vol * math.sqrt(t) == 0.0:
        return df * max(fwd - strike if is_call else strike - fwd, 0.0)
    v = vol * math.sqrt(t)
    d1 = (math.log(fwd / strike) + v * v / 2) / v
    d2 = d1 - v
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
    if is_call:
        return df * (fwd * cdf(d1) - strike * cdf(d2))
    return df * (strike * cdf(-d2) - fwd * cdf(-d1))


def scenarios(grid) -> list[tuple[float, str, float]]:
    """(spot move, vol scenario, weight) in the kernel's order."""
    n = grid.price_steps
    core = [-grid.price_range + 2 * grid.price_range * i / (n - 1) for i in range(n)] if n > 1 else [0.0]
    out = [(s, v, 1.0) for s in core for v in ("up", "flat", "down")]
    return out + [(s, "flat", grid.extended_weight) for s in grid.extended_moves]


def shocked_vol(grid, vol: float, t: float, which: str) -> float:
    days = max(t * 365.0, grid.min_days)
    power = grid.short_term_vega_power if days < grid.vega_power_switch_days else grid.long_term_vega_power
    scale = (grid.vega_power_switch_days / days) ** power
    if which == "up":
        return vol * (1 + grid.vol_range_up * scale)
    if which == "down":
        return max(vol * (1 - grid.vol_range_down * scale), min(grid.min_vol, vol))
    return vol


def position_value(kind: int, strike: float, t: float, fwd: float, vol: float, rate: float) -> float:
    if kind == FUTURE:
        return fwd
    return black76(kind == CALL, fwd, strike, t, vol, rate)


def account_pnl(grid, positions: list[tuple], rate: float = 0.0) -> tuple[list[float], float]:
    """Weighted P&L per scenario and worst loss of (kind, strike, expiry, forward, vol, qty) rows."""
    pnl = []
    for move, which, weight in scenarios(grid):
        total = 0.0
        for kind, strike, t, fwd, vol, qty in positions:
            now = position_value(kind, strike, t, fwd, vol, rate)
            then = position_value(kind, strike, t, fwd * (1 + move), shocked_vol(grid, vol, t, which), rate)
            total += qty * (then - now)
        pnl.append(total * weight)
    return pnl, max(0.0, -min(pnl))
