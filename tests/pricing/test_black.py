"""Black-76 and BSM kernels: agreement with the mpmath reference, edge cases, and
no-arbitrage properties (parity, monotonicity, bounds, Greeks vs finite differences)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import black76_greeks, black76_price, bsm_greeks, bsm_price, theta_per_day
from tests.pricing import naive

RNG = np.random.default_rng(76)
FIELDS = ("price", "delta", "gamma", "vega", "theta", "rho")


def random_market(n: int) -> dict[str, np.ndarray]:
    return {
        "u": RNG.uniform(20.0, 200.0, n),
        "k": RNG.uniform(20.0, 200.0, n),
        "t": RNG.uniform(0.01, 3.0, n),
        "sigma": RNG.uniform(0.05, 1.5, n),
        "r": RNG.uniform(-0.01, 0.1, n),
        "q": RNG.uniform(0.0, 0.06, n),
        "call": RNG.random(n) < 0.5,
    }


def assert_close_to_reference(got, ref, scale: float) -> None:
    """Each Greek within 1e-12 relative, or 1e-13·scale absolute for values near zero."""
    for name in FIELDS:
        g, r = float(getattr(got, name)), getattr(ref, name)
        assert abs(g - r) <= 1e-12 * abs(r) + 1e-13 * scale, (name, g, r)


def test_bsm_price_and_greeks_match_the_mpmath_reference():
    m = random_market(1500)
    got = bsm_greeks(m["u"], m["k"], m["t"], m["sigma"], m["r"], m["q"], m["call"])
    for i in range(1500):
        ref = naive.black_greeks(
            m["u"][i], m["k"][i], m["t"][i], m["sigma"][i], m["r"][i], m["q"][i], bool(m["call"][i]), False
        )
        assert_close_to_reference(type(got)(*(a[i] for a in got)), ref, m["u"][i])


def test_black76_price_and_greeks_match_the_mpmath_reference():
    m = random_market(1500)
    got = black76_greeks(m["u"], m["k"], m["t"], m["sigma"], m["r"], m["call"])
    for i in range(1500):
        ref = naive.black_greeks(
            m["u"][i], m["k"][i], m["t"][i], m["sigma"][i], m["r"][i], m["r"][i], bool(m["call"][i]), True
        )
        assert_close_to_reference(type(got)(*(a[i] for a in got)), ref, m["u"][i])


def test_deep_out_of_the_money_prices_keep_relative_accuracy():
    # Includes low total vol near the money, where F·N(d1) − K·N(d2) would cancel 4+ digits
    # (≈ 1e-10 relative error); what remains is the price's own conditioning: d ln V/dx is
    # ≈ x/v², about 1e4 here, times the rounding of x = ln(S/K) + (r − q)T.
    cases = [(400.0, 0.2, True), (25.0, 0.2, False), (115.0, 0.0087, True), (87.0, 0.0087, False),
             (103.0, 0.0015, True), (160.0, 0.05, True)]
    for strike, sigma, call in cases:
        got = bsm_price(100.0, strike, 0.25, sigma, 0.03, 0.01, call)
        ref = float(naive.black_price(100.0, strike, 0.25, sigma, 0.03, 0.01, call))
        assert 0.0 < ref < 1e-15
        assert abs(got - ref) <= 1e-12 * ref, (strike, sigma, call, got, ref)


def test_price_kernel_gives_the_same_bits_as_the_greeks_kernel():
    m = random_market(20000)
    for k in (m["k"], m["u"]):  # random strikes, and exactly at the money
        full = bsm_greeks(m["u"], k, m["t"], m["sigma"], m["r"], m["q"], m["call"])
        alone = bsm_price(m["u"], k, m["t"], m["sigma"], m["r"], m["q"], m["call"])
        assert full.price.tobytes() == alone.tobytes()
        full76 = black76_greeks(m["u"], k, m["t"], m["sigma"], m["r"], m["call"])
        assert full76.price.tobytes() == black76_price(m["u"], k, m["t"], m["sigma"], m["r"], m["call"]).tobytes()


def test_scalar_inputs_give_floats_equal_to_the_vectorized_result():
    m = random_market(50)
    vec = bsm_greeks(m["u"], m["k"], m["t"], m["sigma"], m["r"], m["q"], m["call"])
    for i in range(50):
        one = bsm_greeks(m["u"][i], m["k"][i], m["t"][i], m["sigma"][i], m["r"][i], m["q"][i], bool(m["call"][i]))
        assert all(isinstance(v, float) for v in one)
        assert [float(a[i]) for a in vec] == list(one)


def test_inputs_broadcast_to_a_common_shape():
    strikes = np.array([[90.0, 100.0, 110.0]])
    vols = np.array([[0.1], [0.2]])
    prices = bsm_price(100.0, strikes, 1.0, vols, 0.01, 0.0, True)
    assert prices.shape == (2, 3)
    assert prices[1, 0] == bsm_price(100.0, 90.0, 1.0, 0.2, 0.01, 0.0, True)


def test_at_expiry_the_option_is_worth_its_intrinsic_value():
    for spot, strike in ((110.0, 100.0), (90.0, 100.0)):
        call = bsm_greeks(spot, strike, 0.0, 0.3, 0.05, 0.02, True)
        put = bsm_greeks(spot, strike, 0.0, 0.3, 0.05, 0.02, False)
        assert call.price == max(spot - strike, 0.0)
        assert put.price == max(strike - spot, 0.0)
        assert call.delta == (1.0 if spot > strike else 0.0)
        assert put.delta == (-1.0 if spot < strike else 0.0)
        assert call.gamma == put.gamma == call.vega == 0.0


def test_at_expiry_at_the_strike_delta_is_one_half_and_gamma_and_decay_are_infinite():
    g = bsm_greeks(100.0, 100.0, 0.0, 0.3, 0.05, 0.0, True)
    assert (g.price, g.delta, g.gamma, g.theta) == (0.0, 0.5, math.inf, -math.inf)


def test_near_zero_expiry_approaches_intrinsic_smoothly():
    prices = [bsm_price(110.0, 100.0, t, 0.3, 0.05, 0.0, True) for t in (1e-4, 1e-8, 1e-12)]
    assert all(math.isfinite(p) for p in prices)
    assert prices[0] > prices[1] > prices[2] >= 10.0
    assert prices[2] == pytest.approx(10.0 + 100.0 * 0.05 * 1e-12, abs=1e-12)
    g = bsm_greeks(100.0, 100.0, 1e-12, 0.3, 0.0, 0.0, True)
    assert g.delta == pytest.approx(0.5, abs=1e-6)
    assert g.gamma == pytest.approx(1.0 / math.sqrt(2.0 * math.pi) / (100.0 * 0.3 * 1e-6), rel=1e-9)


def test_zero_vol_prices_the_discounted_forward_intrinsic_value():
    spot, strike, t, r, q = 100.0, 90.0, 2.0, 0.05, 0.01
    forward_intrinsic = spot * math.exp(-q * t) - strike * math.exp(-r * t)
    call = bsm_greeks(spot, strike, t, 0.0, r, q, True)
    assert call.price == pytest.approx(forward_intrinsic, rel=1e-14)
    assert call.delta == pytest.approx(math.exp(-q * t), rel=1e-15)
    assert call.gamma == 0.0 and call.vega == 0.0
    put = bsm_greeks(spot, strike, t, 0.0, r, q, False)
    assert put.price == 0.0 and put.delta == 0.0


def test_zero_vol_at_the_forward_keeps_the_limiting_vega():
    forward, t, r = 100.0, 0.5, 0.02
    g = black76_greeks(forward, forward, t, 0.0, r, True)
    assert g.price == 0.0 and g.delta == pytest.approx(0.5 * math.exp(-r * t), rel=1e-15)
    assert g.vega == pytest.approx(math.exp(-r * t) * forward * math.sqrt(t) / math.sqrt(2 * math.pi), rel=1e-14)


def test_deep_in_and_out_of_the_money_greeks_are_finite_and_saturated():
    g = bsm_greeks(100.0, np.array([1e-3, 1e5]), 1.0, 0.2, 0.01, 0.0, True)
    assert np.all(np.isfinite(np.array(g)))
    assert g.delta[0] == 1.0 and 0.0 <= g.delta[1] < 1e-250
    assert g.price[0] == pytest.approx(100.0 - 1e-3 * math.exp(-0.01), rel=1e-15)
    assert 0.0 <= g.price[1] < 1e-250


def test_very_high_vol_call_tends_to_the_discounted_spot():
    g = bsm_greeks(100.0, 100.0, 10.0, 10.0, 0.01, 0.02, True)
    assert g.price == pytest.approx(100.0 * math.exp(-0.2), rel=1e-12)
    assert g.price <= 100.0 * math.exp(-0.2) * (1.0 + 2.0**-51)
    assert all(math.isfinite(v) for v in g)


def test_theta_per_day_is_theta_per_year_over_365():
    g = bsm_greeks(100.0, 105.0, 0.5, 0.25, 0.03, 0.0, True)
    assert theta_per_day(g.theta) == g.theta / 365.0


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"strike": -1.0}, "strike must be > 0"),
        ({"spot": 0.0}, "underlying"),
        ({"t": -0.1}, "time to expiry"),
        ({"sigma": -0.2}, "sigma"),
        ({"r": math.nan}, "r must be finite"),
        ({"spot": math.inf}, "spot must be finite"),
        ({"is_call": 1}, "is_call must be bool"),
        ({"strike": np.ones(3), "sigma": np.ones(2)}, "broadcast"),
    ],
)
def test_invalid_inputs_raise_clear_value_errors(kwargs, message):
    args = {"spot": 100.0, "strike": 100.0, "t": 1.0, "sigma": 0.2, "r": 0.01, "q": 0.0, "is_call": True}
    with pytest.raises(ValueError, match=message):
        bsm_greeks(**{**args, **kwargs})


spots = st.floats(10.0, 500.0)
strikes = st.floats(10.0, 500.0)
times = st.floats(0.005, 5.0)
vols = st.floats(0.01, 2.0)
rates = st.floats(-0.02, 0.15)
yields = st.floats(0.0, 0.1)


@settings(max_examples=400, deadline=None)
@given(spots, strikes, times, vols, rates, yields)
def test_put_call_parity(s, k, t, sigma, r, q):
    call = bsm_price(s, k, t, sigma, r, q, True)
    put = bsm_price(s, k, t, sigma, r, q, False)
    forward_value = s * math.exp(-q * t) - k * math.exp(-r * t)
    assert call - put == pytest.approx(forward_value, abs=1e-12 * max(s, k))


@settings(max_examples=400, deadline=None)
@given(spots, strikes, times, vols, rates, yields, st.booleans())
def test_price_lies_within_the_no_arbitrage_bounds(s, k, t, sigma, r, q, call):
    price = bsm_price(s, k, t, sigma, r, q, call)
    spot_leg, strike_leg = s * math.exp(-q * t), k * math.exp(-r * t)
    slack = 1e-12 * max(s, k)
    if call:
        assert max(spot_leg - strike_leg, 0.0) - slack <= price <= spot_leg
    else:
        assert max(strike_leg - spot_leg, 0.0) - slack <= price <= strike_leg


@settings(max_examples=300, deadline=None)
@given(spots, st.lists(strikes, min_size=2, max_size=20), times, vols, rates, yields)
def test_prices_are_monotone_in_strike(s, ks, t, sigma, r, q):
    ks = np.sort(np.array(ks))
    slack = 1e-12 * s
    assert np.all(np.diff(bsm_price(s, ks, t, sigma, r, q, True)) <= slack)
    assert np.all(np.diff(bsm_price(s, ks, t, sigma, r, q, False)) >= -slack)


@settings(max_examples=300, deadline=None)
@given(spots, strikes, times, st.lists(vols, min_size=2, max_size=20), rates, yields, st.booleans())
def test_prices_increase_with_vol(s, k, t, sigmas, r, q, call):
    prices = bsm_price(s, k, t, np.sort(np.array(sigmas)), r, q, call)
    assert np.all(np.diff(prices) >= -1e-12 * max(s, k))


@settings(max_examples=300, deadline=None)
@given(st.floats(50.0, 200.0), st.floats(50.0, 200.0), st.floats(0.05, 3.0), st.floats(0.05, 1.0),
       st.floats(0.0, 0.1), st.floats(0.0, 0.05), st.booleans())
def test_greeks_match_central_finite_differences(s, k, t, sigma, r, q, call):
    g = bsm_greeks(s, k, t, sigma, r, q, call)

    def price(**bump):
        a = {"spot": s, "strike": k, "t": t, "sigma": sigma, "r": r, "q": q, "is_call": call}
        return bsm_price(**{**a, **{name: a[name] + h for name, h in bump.items()}})

    hs, hv, ht, hr = 1e-5 * s, 1e-5, 1e-6, 1e-6
    scale = max(s, k)
    assert g.delta == pytest.approx((price(spot=hs) - price(spot=-hs)) / (2 * hs), abs=1e-6)
    gamma_fd = (price(spot=hs) - 2 * g.price + price(spot=-hs)) / (hs * hs)
    assert g.gamma == pytest.approx(gamma_fd, abs=1e-5 + 1e-4 * g.gamma)
    assert g.vega == pytest.approx((price(sigma=hv) - price(sigma=-hv)) / (2 * hv), abs=1e-6 * scale)
    assert g.theta == pytest.approx(-(price(t=ht) - price(t=-ht)) / (2 * ht), abs=1e-5 * scale)
    assert g.rho == pytest.approx((price(r=hr) - price(r=-hr)) / (2 * hr), abs=1e-5 * scale)
