"""Implied volatility: round trips over the no-arbitrage domain, agreement with an mpmath
bisection, and clear errors for prices outside the arbitrage bounds."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pricing import black76_greeks, black76_iv, black76_price, bsm_greeks, bsm_iv
from pricing.iv import NOT_CONVERGED, OK, _iv_kernel
from tests.pricing import naive

RNG = np.random.default_rng(1976)


def test_bsm_implied_vol_round_trips_to_1e_12_where_well_conditioned():
    n = 200_000
    s, k = RNG.uniform(20.0, 200.0, n), RNG.uniform(20.0, 200.0, n)
    t, sigma = RNG.uniform(0.005, 3.0, n), RNG.uniform(0.02, 2.0, n)
    r, q, call = RNG.uniform(-0.01, 0.1, n), RNG.uniform(0.0, 0.06, n), RNG.random(n) < 0.5
    g = bsm_greeks(s, k, t, sigma, r, q, call)
    # σ moves by (price rounding ≈ 1e-16·max(S, K)) / vega; keep inputs where that is ≤ 1e-13·σ.
    conditioned = np.maximum(s, k) <= 1e3 * g.vega * sigma
    assert conditioned.sum() > 0.7 * n
    vol = bsm_iv(g.price[conditioned], s[conditioned], k[conditioned], t[conditioned],
                 r[conditioned], q[conditioned], call[conditioned])
    assert np.max(np.abs(vol / sigma[conditioned] - 1.0)) <= 1e-12


@settings(max_examples=500, deadline=None)
@given(
    st.floats(1.0, 1e4), st.floats(0.2, 5.0), st.floats(1e-4, 10.0), st.floats(1e-3, 4.0),
    st.floats(-0.05, 0.3), st.floats(0.0, 0.2), st.booleans(),
)
def test_implied_vol_recovers_sigma_whenever_the_price_pins_it(s, moneyness, t, sigma, r, q, call):
    k = s * moneyness
    g = bsm_greeks(s, k, t, sigma, r, q, call)
    assume(max(s, k) <= 1e3 * g.vega * sigma)
    assert bsm_iv(g.price, s, k, t, r, q, call) == pytest.approx(sigma, rel=1e-12)


def test_normalized_domain_is_solved_everywhere_from_deep_otm_to_near_the_upper_bound():
    # Out-of-the-money calls (forward 1, strike e^{|x|}; every option reduces to one) over
    # the whole (moneyness, total vol) plane a chain can meet.
    n = 100_000
    x = np.concatenate([RNG.uniform(0.0, 8.0, n // 2), 10.0 ** RNG.uniform(-8.0, 0.0, n // 2)])
    total_vol = 10.0 ** RNG.uniform(-2.5, 1.0, n)
    strike = np.exp(x)
    price = black76_price(1.0, strike, 1.0, total_vol, 0.0, True)
    out, status = np.empty(n), np.empty(n, np.int8)
    ones = np.ones(n)
    _iv_kernel(price, ones, strike, ones, np.zeros(n), np.zeros(n), np.ones(n, bool), out, status)
    assert not np.any(status == NOT_CONVERGED)
    assert (status[price > 0.0] == OK).all()
    # The price pins σ where its elasticity vega·σ/price is not tiny (near the upper bound
    # it vanishes) and the price is a normal double (subnormals have few significant bits).
    vega = black76_greeks(1.0, strike, 1.0, total_vol, 0.0, True).vega
    pinned = (vega * total_vol >= 1e-2 * price) & (price > 1e-300)
    assert pinned.sum() > 0.7 * n
    assert np.max(np.abs(out[pinned] / total_vol[pinned] - 1.0)) <= 1e-12


def test_implied_vol_matches_an_mpmath_bisection_including_deep_out_of_the_money():
    out_of_the_money = [
        (100.0, 100.0, 1.0, 0.01, 0.0, False),
        (100.0, 300.0, 0.25, 0.02, 0.01, True),
        (100.0, 40.0, 0.5, 0.05, 0.0, False),
        (100.0, 101.0, 1e-3, 0.0, 0.0, True),
        (100.0, 120.0, 5.0, 0.01, 0.0, True),
    ]
    for spot, strike, t, r, q, call in out_of_the_money:
        for price in (1e-30, 1e-8, 1e-3, 0.2):
            got = bsm_iv(price, spot, strike, t, r, q, call)
            assert got == pytest.approx(naive.implied_vol(price, spot, strike, t, r, q, call), rel=1e-12)
    in_the_money = [(100.0, 80.0, 2.0, 0.03, 0.02, True), (100.0, 130.0, 0.5, 0.01, 0.0, False)]
    for spot, strike, t, r, q, call in in_the_money:
        intrinsic = abs(spot * math.exp(-q * t) - strike * math.exp(-r * t))
        for time_value in (0.5, 3.0):
            price = intrinsic + time_value
            got = bsm_iv(price, spot, strike, t, r, q, call)
            assert got == pytest.approx(naive.implied_vol(price, spot, strike, t, r, q, call), rel=1e-12)


def test_price_at_intrinsic_value_implies_zero_vol():
    assert bsm_iv(0.0, 100.0, 120.0, 1.0, 0.01, 0.0, True) == 0.0
    intrinsic = 100.0 - 90.0
    assert black76_iv(intrinsic, 100.0, 90.0, 1.0, 0.0, True) == 0.0


def test_vectorized_and_scalar_implied_vols_agree():
    prices = black76_price(100.0, np.array([80.0, 100.0, 125.0]), 0.5, 0.3, 0.02, True)
    vols = black76_iv(prices, 100.0, np.array([80.0, 100.0, 125.0]), 0.5, 0.02, True)
    assert vols.shape == (3,)
    assert black76_iv(float(prices[1]), 100.0, 100.0, 0.5, 0.02, True) == vols[1]


@pytest.mark.parametrize(
    "args,message",
    [
        ((5.0, 100.0, 90.0, 1.0, 0.0, True), "below intrinsic"),
        ((9.0, 100.0, 110.0, 1.0, 0.0, False), "below intrinsic"),
        ((100.0, 100.0, 100.0, 1.0, 0.0, True), "upper bound"),
        ((130.0, 100.0, 120.0, 1.0, 0.0, False), "upper bound"),
        ((-1.0, 100.0, 100.0, 1.0, 0.0, True), "price must be >= 0"),
        ((1.0, 100.0, 100.0, 0.0, 0.0, True), "time to expiry"),
        ((math.nan, 100.0, 100.0, 1.0, 0.0, True), "price must be finite"),
    ],
)
def test_prices_outside_the_arbitrage_bounds_raise_clear_errors(args, message):
    with pytest.raises(ValueError, match=message):
        black76_iv(*args)


def test_error_names_how_many_inputs_failed_and_the_first_one():
    prices = np.array([5.0, 20.0, 200.0, 1.0])
    with pytest.raises(ValueError, match=r"2 input\(s\); first at flat index 2"):
        black76_iv(prices, 100.0, np.array([100.0, 90.0, 90.0, 200.0]), 1.0, 0.0, np.array([True, True, True, False]))
