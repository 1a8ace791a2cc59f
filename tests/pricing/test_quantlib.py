"""QuantLib as an independent peer: BSM prices and Greeks over a ≥ 10,000-point grid agree
to 1e-10 relative where well-conditioned, and implied vols round-trip through it."""

import itertools
import math

import numpy as np
import pytest

from pricing import black76_iv, bsm_greeks, bsm_iv

ql = pytest.importorskip("QuantLib")

SPOTS = (50.0, 80.0, 100.0, 125.0, 200.0)
STRIKES = (40.0, 70.0, 90.0, 100.0, 110.0, 130.0, 160.0, 250.0)
TIMES = (0.02, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
VOLS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0)
RATES = (-0.01, 0.0, 0.02, 0.05, 0.1)
FIELDS = ("price", "delta", "gamma", "vega", "theta", "rho")


def grid() -> dict[str, np.ndarray]:
    rows = np.array(list(itertools.product(SPOTS, STRIKES, TIMES, VOLS, RATES, (True, False))))
    return {
        "s": rows[:, 0], "k": rows[:, 1], "t": rows[:, 2], "sigma": rows[:, 3], "r": rows[:, 4],
        "call": rows[:, 5].astype(bool),
    }


def quantlib_black_calculator(s, k, t, sigma, r, q, call) -> tuple[float, ...]:
    """Price and Greeks from QuantLib's BlackCalculator on the forward S·e^{(r−q)T}."""
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, k)
    forward = s * math.exp((r - q) * t)
    calc = ql.BlackCalculator(payoff, forward, sigma * math.sqrt(t), math.exp(-r * t))
    return calc.value(), calc.delta(s), calc.gamma(s), calc.vega(t), calc.theta(s, t), calc.rho(t)


def agree(ours: float, theirs: float, scale: float) -> bool:
    return abs(ours - theirs) <= 1e-10 * abs(theirs) + 1e-12 * scale


def test_bsm_prices_and_greeks_agree_with_quantlib_on_a_grid_of_over_10000_points():
    g = grid()
    n = g["s"].size
    assert n >= 10_000
    ours = bsm_greeks(g["s"], g["k"], g["t"], g["sigma"], g["r"], 0.0, g["call"])
    compared = 0
    for i in range(n):
        s, k = g["s"][i], g["k"][i]
        theirs = quantlib_black_calculator(s, k, g["t"][i], g["sigma"][i], g["r"][i], 0.0, bool(g["call"][i]))
        # Well-conditioned: the option is worth something relative to the underlying.
        if theirs[0] < 1e-8 * s:
            continue
        compared += 1
        for name, mine, peer in zip(FIELDS, (a[i] for a in ours), theirs):
            where = (name, s, k, g["t"][i], g["sigma"][i], g["r"][i], mine, peer)
            assert agree(float(mine), peer, max(s, k)), where
    assert compared >= 10_000


def test_bsm_with_dividend_yield_agrees_with_quantlib_analytic_european_engine():
    rng = np.random.default_rng(42)
    today = ql.Date(2, ql.January, 2026)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    for _ in range(300):
        s, k = rng.uniform(50.0, 150.0), rng.uniform(50.0, 150.0)
        days = int(rng.integers(5, 1500))
        t = days / 365.0
        sigma, r, q = rng.uniform(0.05, 1.0), rng.uniform(0.0, 0.08), rng.uniform(0.0, 0.05)
        call = bool(rng.random() < 0.5)
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(s)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, q, day_count)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, r, day_count)),
            ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), sigma, day_count)),
        )
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, k),
            ql.EuropeanExercise(today + days),
        )
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        theirs = (option.NPV(), option.delta(), option.gamma(), option.vega(), option.theta(), option.rho())
        if theirs[0] < 1e-8 * s:
            continue
        ours = bsm_greeks(s, k, t, sigma, r, q, call)
        for name, mine, peer in zip(FIELDS, ours, theirs):
            assert agree(mine, peer, max(s, k)), (name, s, k, t, sigma, r, q, call, mine, peer)


def test_implied_vols_round_trip_through_quantlib():
    g = grid()
    checked = 0
    for i in range(0, g["s"].size, 7):
        s, k, t, sigma, r = g["s"][i], g["k"][i], g["t"][i], g["sigma"][i], g["r"][i]
        call = bool(g["call"][i])
        forward, discount = s * math.exp(r * t), math.exp(-r * t)
        option_type = ql.Option.Call if call else ql.Option.Put
        price, _, _, vega, _, _ = quantlib_black_calculator(s, k, t, sigma, r, 0.0, call)
        # Vol is pinned by the price only where vega·σ is not lost in the price's rounding.
        if vega * sigma < 1e-4 * max(s, k):
            continue
        ours = black76_iv(price, forward, k, t, r, call)
        std_dev = ql.blackFormulaImpliedStdDev(
            option_type, k, forward, price, discount, 0.0, sigma * math.sqrt(t), 1e-14, 200
        )
        theirs = std_dev / math.sqrt(t)
        assert ours == pytest.approx(sigma, rel=1e-11)
        assert ours == pytest.approx(theirs, rel=1e-10)
        assert bsm_iv(price, s, k, t, r, 0.0, call) == pytest.approx(sigma, rel=1e-11)
        checked += 1
    assert checked > 1000
