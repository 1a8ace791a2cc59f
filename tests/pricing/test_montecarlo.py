"""Monte Carlo: inverse normal accuracy, agreement with the reference, known prices, determinism."""

import math
from statistics import NormalDist

import numpy as np
import pytest

from pricing.montecarlo import norm_ppf_array, price_asian, price_barrier
from tests.pricing import naive_montecarlo
from tests.pricing.determinism_grids import MC_SEED, digest, interpreted_output, montecarlo_outputs

MONTECARLO_GOLDEN_SHA256 = "568aa65b77ecd2d060497e3afafbd2323da637f515da21fcfde181046a78f92b"
N = NormalDist()
MARKET = {"spot": 100.0, "strike": 100.0, "t": 1.0, "vol": 0.3, "rate": 0.05, "div_yield": 0.0}


def _black_scholes(is_call: bool, spot, strike, t, vol, rate, div_yield) -> float:
    d1 = (math.log(spot / strike) + (rate - div_yield + vol * vol / 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    if is_call:
        return spot * math.exp(-div_yield * t) * N.cdf(d1) - strike * math.exp(-rate * t) * N.cdf(d2)
    return strike * math.exp(-rate * t) * N.cdf(-d2) - spot * math.exp(-div_yield * t) * N.cdf(-d1)


def _geometric_asian_call(spot, strike, t, vol, rate, div_yield, n) -> float:
    """Closed form for the discrete geometric average of S(t/n), ..., S(t): a lognormal."""
    dt = t / n
    mu = math.log(spot) + (rate - div_yield - vol * vol / 2) * dt * (n + 1) / 2
    var = vol * vol * dt * (n + 1) * (2 * n + 1) / (6 * n)
    d1 = (mu - math.log(strike) + var) / math.sqrt(var)
    d2 = d1 - math.sqrt(var)
    return math.exp(-rate * t) * (math.exp(mu + var / 2) * N.cdf(d1) - strike * N.cdf(d2))


def test_inverse_normal_matches_the_standard_library_to_rounding():
    u = np.random.default_rng(1).uniform(0.0, 1.0, 20_000)
    u = np.concatenate([u, [0.5 * 2.0**-32, 1.0 - 0.5 * 2.0**-32, 0.02425, 0.97575, 1e-300]])
    got = norm_ppf_array(u)
    ref = np.array([N.inv_cdf(p) for p in u])
    assert np.max(np.abs(got - ref) / np.maximum(1.0, np.abs(ref))) < 4e-15


def test_inverse_normal_is_odd_about_one_half():
    u = np.random.default_rng(2).uniform(0.5, 1.0, 1000)
    np.testing.assert_array_equal(norm_ppf_array(u), -norm_ppf_array(1.0 - u))


@pytest.mark.parametrize(
    ("style", "is_call", "barrier"),
    [("asian", True, 0.0), ("asian", False, 0.0), ("up-and-out", True, 125.0),
     ("up-and-in", True, 125.0), ("down-and-out", False, 80.0), ("down-and-in", False, 80.0)],
)
def test_prices_match_the_reference_path_by_path(style, is_call, barrier):
    args = dict(MARKET, vol=0.6, n_steps=9, n_pairs=60)
    if style == "asian":
        got = price_asian(MC_SEED, is_call, **args)
    else:
        got = price_barrier(MC_SEED, is_call, style, barrier=barrier, **args)
    ref_price, ref_se = naive_montecarlo.price(
        style, MC_SEED, is_call, args["spot"], args["strike"], barrier, args["t"], args["vol"],
        args["rate"], args["div_yield"], args["n_steps"], args["n_pairs"],
    )
    assert got.price == pytest.approx(ref_price, rel=1e-12, abs=1e-12)
    assert got.std_error == pytest.approx(ref_se, rel=1e-9, abs=1e-12)
    assert got.n_paths == 120


def test_one_step_asian_is_a_european_within_four_standard_errors():
    for is_call in (True, False):
        mc = price_asian(MC_SEED, is_call, n_steps=1, n_pairs=100_000, **MARKET)
        assert abs(mc.price - _black_scholes(is_call, **MARKET)) < 4 * mc.std_error
        assert mc.std_error < 0.05


def test_arithmetic_asian_call_lies_between_geometric_asian_and_european():
    mc = price_asian(MC_SEED, True, n_steps=12, n_pairs=50_000, **MARKET)
    geometric = _geometric_asian_call(**MARKET, n=12)
    assert geometric - 3 * mc.std_error < mc.price < _black_scholes(True, **MARKET)
    assert mc.price - geometric < 0.1 * geometric  # close for moderate vol, as is well known


def test_knock_in_plus_knock_out_is_the_vanilla_on_the_same_paths():
    args = dict(MARKET, n_steps=32, n_pairs=20_000)
    out = price_barrier(MC_SEED, True, "up-and-out", barrier=130.0, **args)
    into = price_barrier(MC_SEED, True, "up-and-in", barrier=130.0, **args)
    vanilla = price_barrier(MC_SEED, True, "up-and-in", barrier=1e-9, **args)  # always knocked in
    assert out.price + into.price == pytest.approx(vanilla.price, rel=1e-12)
    assert abs(vanilla.price - _black_scholes(True, **MARKET)) < 4 * vanilla.std_error


def test_a_barrier_never_touched_leaves_the_vanilla():
    args = dict(MARKET, n_steps=16, n_pairs=2000)
    far = price_barrier(MC_SEED, False, "down-and-out", barrier=1e-6, **args)
    vanilla = price_barrier(MC_SEED, False, "up-and-in", barrier=1e-9, **args)
    assert far.price == vanilla.price


def test_down_and_out_put_is_cheaper_than_the_vanilla_put():
    args = dict(MARKET, n_steps=32, n_pairs=20_000)
    knocked = price_barrier(MC_SEED, False, "down-and-out", barrier=85.0, **args)
    assert 0.0 < knocked.price < _black_scholes(False, **MARKET) - 5 * knocked.std_error


def test_same_seed_repeats_and_another_seed_differs():
    args = dict(MARKET, n_steps=8, n_pairs=500)
    first = price_asian(MC_SEED, True, **args)
    assert price_asian(MC_SEED, True, **args) == first
    assert price_asian(bytes(32), True, **args).price != first.price


def test_standard_error_shrinks_like_one_over_root_n():
    small = price_asian(MC_SEED, True, n_steps=4, n_pairs=2_500, **MARKET)
    large = price_asian(MC_SEED, True, n_steps=4, n_pairs=40_000, **MARKET)
    assert large.std_error == pytest.approx(small.std_error / 4, rel=0.1)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError):
        price_asian(b"short seed", True, **MARKET)
    with pytest.raises(ValueError):
        price_asian(MC_SEED, True, n_pairs=1, **MARKET)
    with pytest.raises(ValueError):
        price_barrier(MC_SEED, True, "sideways-and-out", barrier=120.0, **MARKET)
    with pytest.raises(ValueError):
        norm_ppf_array(np.array([0.0, 0.5]))


def test_jit_and_interpreted_kernels_give_identical_bytes_over_100k_draws():
    assert interpreted_output("montecarlo") == montecarlo_outputs()


def test_golden_digest_of_the_fixed_grid_is_unchanged():
    assert digest(montecarlo_outputs()) == MONTECARLO_GOLDEN_SHA256
