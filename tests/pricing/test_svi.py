"""SVI surfaces: evaluation against the reference, interpolation, arbitrage checks, fitting, determinism."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.svi import (
    SVISlice,
    SVISurface,
    butterfly_density_factor,
    check_butterfly,
    check_calendar,
    fit_svi,
    surface_implied_vols,
    surface_total_variance,
)
from tests.pricing import naive_svi
from tests.pricing.determinism_grids import digest, interpreted_output, svi_outputs, svi_surface_fixture

SVI_GOLDEN_SHA256 = "7a569e99016ecc55c6e267c242233839babcabb61f52135ef69e239d37e22b0b"
K_GRID = np.linspace(-3.0, 3.0, 1201)

# Axel Vogt's slice from Gatheral & Jacquier, "Arbitrage-free SVI volatility surfaces" (2014):
# admissible parameters whose density is negative near k = 1.
VOGT = SVISlice(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153)

admissible_slices = st.builds(
    SVISlice,
    a=st.floats(0.0, 0.5),
    b=st.floats(0.0, 0.6),
    rho=st.floats(-0.95, 0.95),
    m=st.floats(-0.5, 0.5),
    sigma=st.floats(0.01, 1.0),
)


def _params(surface: SVISurface) -> list[tuple]:
    return [tuple(float(x) for x in row) for row in surface.params]


def test_implied_vols_match_the_reference_everywhere_on_the_surface():
    surface = svi_surface_fixture()
    rng = np.random.default_rng(3)
    strikes = 100.0 * np.exp(rng.uniform(-1.5, 1.5, 5000))
    ts = rng.uniform(1 / 365, 2.0, 5000)
    got = surface_implied_vols(surface, 100.0, strikes, ts)
    expiries, params = list(surface.expiries), _params(surface)
    for vol, k, t in zip(got, strikes, ts):
        assert vol == pytest.approx(naive_svi.implied_vol(expiries, params, 100.0, k, t), rel=1e-13)


def test_each_point_may_carry_the_forward_of_its_own_expiry():
    surface = svi_surface_fixture()
    forwards = np.array([99.0, 100.5, 102.0])
    strikes = np.array([95.0, 100.0, 110.0])
    ts = np.array([0.1, 0.5, 1.5])
    together = surface_implied_vols(surface, forwards, strikes, ts)
    one_by_one = [surface_implied_vols(surface, f, k, t)[0] for f, k, t in zip(forwards, strikes, ts)]
    np.testing.assert_array_equal(together, one_by_one)


def test_total_variance_equals_the_slice_at_each_expiry():
    surface = svi_surface_fixture()
    for i, t in enumerate(surface.expiries):
        w = surface_total_variance(surface, K_GRID, np.full_like(K_GRID, t))
        ref = [naive_svi.slice_total_variance(tuple(surface.params[i]), k) for k in K_GRID]
        np.testing.assert_allclose(w, ref, rtol=1e-15)


def test_implied_vol_is_flat_beyond_the_last_expiry_and_toward_zero():
    surface = svi_surface_fixture()
    k = np.array([-0.4, 0.0, 0.3])
    for t_edge, t_out in ((surface.expiries[-1], 3.0), (surface.expiries[0], 1 / 365)):
        at_edge = np.sqrt(surface_total_variance(surface, k, t_edge) / t_edge)
        outside = np.sqrt(surface_total_variance(surface, k, t_out) / t_out)
        np.testing.assert_allclose(outside, at_edge, rtol=1e-14)


def test_the_fixture_surface_is_free_of_static_arbitrage():
    surface = svi_surface_fixture()
    assert check_calendar(surface, K_GRID).ok
    for i in range(len(surface.expiries)):
        assert check_butterfly(surface.slice(i), K_GRID).ok


def test_vogt_slice_is_flagged_for_butterfly_arbitrage_near_k_one():
    report = check_butterfly(VOGT, K_GRID)
    assert VOGT.is_admissible()
    assert not report.ok
    assert report.worst_value < 0.0
    assert 0.5 < report.worst_k < 1.5


def test_crossing_slices_are_flagged_for_calendar_arbitrage():
    near = SVISlice(0.04, 0.1, 0.0, 0.0, 0.1)
    far_but_lower_in_the_wings = SVISlice(0.06, 0.02, 0.0, 0.0, 0.1)
    surface = SVISurface.from_slices([0.25, 0.5], [near, far_but_lower_in_the_wings])
    report = check_calendar(surface, K_GRID)
    assert not report.ok
    assert abs(report.worst_k) == 3.0  # the wings cross, the centre does not


def test_inadmissible_slices_are_rejected():
    with pytest.raises(ValueError):
        SVISurface.from_slices([0.5], [SVISlice(0.0, 1.5, 0.5, 0.0, 0.1)])  # b(1+|rho|) > 2
    with pytest.raises(ValueError):
        SVISurface.from_slices([0.5], [SVISlice(-0.1, 0.1, 0.0, 0.0, 0.1)])  # negative variance
    with pytest.raises(ValueError):
        SVISurface.from_slices([0.5, 0.25], [VOGT, VOGT])  # expiries not increasing


@settings(max_examples=200, deadline=None)
@given(admissible_slices)
def test_admissible_slice_never_goes_below_its_minimum_variance(s):
    if not s.is_admissible():
        return
    w = np.array([naive_svi.slice_total_variance((s.a, s.b, s.rho, s.m, s.sigma), k) for k in K_GRID])
    assert w.min() >= s.min_total_variance() - 1e-12
    k_star = s.m - s.rho * s.sigma / math.sqrt(1.0 - s.rho**2)
    at_min = naive_svi.slice_total_variance((s.a, s.b, s.rho, s.m, s.sigma), k_star)
    assert at_min == pytest.approx(s.min_total_variance(), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(admissible_slices, st.floats(0.0, 0.3), st.floats(0.05, 1.0), st.floats(0.05, 1.0))
def test_interpolation_between_calendar_free_nodes_is_monotone_in_expiry(s, bump, t0, dt):
    later = SVISlice(s.a + bump, s.b, s.rho, s.m, s.sigma)  # w(k) rises by `bump` at every k
    if not s.is_admissible():
        return
    surface = SVISurface.from_slices([t0, t0 + dt], [s, later])
    assert check_calendar(surface, K_GRID).ok
    ts = np.linspace(t0 / 4, t0 + 2 * dt, 23)
    for k in (-1.0, 0.0, 0.7):
        w = surface_total_variance(surface, np.full_like(ts, k), ts)
        assert np.all(np.diff(w) >= -1e-15)


@settings(max_examples=60, deadline=None)
@given(admissible_slices)
def test_slices_passing_the_butterfly_check_have_convex_call_prices(s):
    if not check_butterfly(s, K_GRID).ok:
        return
    strikes = np.exp(np.linspace(-2.0, 2.0, 161))
    calls = []
    for strike in strikes:
        w = naive_svi.slice_total_variance((s.a, s.b, s.rho, s.m, s.sigma), math.log(strike))
        if w <= 0.0:
            calls.append(max(1.0 - strike, 0.0))
            continue
        d1 = (-math.log(strike) + w / 2) / math.sqrt(w)
        d2 = d1 - math.sqrt(w)
        cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
        calls.append(cdf(d1) - strike * cdf(d2))
    calls = np.array(calls)
    slopes = np.diff(calls) / np.diff(strikes)
    assert np.all(np.diff(slopes) >= -1e-9)


def test_butterfly_factor_is_one_for_a_flat_smile():
    flat = SVISlice(0.04, 0.0, 0.0, 0.0, 0.1)
    np.testing.assert_allclose(butterfly_density_factor(flat, K_GRID), 1.0)


def test_fit_recovers_the_parameters_of_noiseless_quotes():
    truth = SVISlice(0.04, 0.4, -0.4, 0.05, 0.2)
    k = np.linspace(-1.0, 1.0, 41)
    w = np.array([naive_svi.slice_total_variance((0.04, 0.4, -0.4, 0.05, 0.2), x) for x in k])
    fitted = fit_svi(k, w)
    for got, want in zip(fitted.as_array(), truth.as_array()):
        assert got == pytest.approx(want, abs=1e-5)


def test_fit_to_noisy_quotes_is_admissible_and_close():
    rng = np.random.default_rng(11)
    k = np.linspace(-0.8, 0.8, 31)
    clean = np.array([naive_svi.slice_total_variance((0.02, 0.2, -0.6, 0.1, 0.15), x) for x in k])
    noisy = clean * (1.0 + 0.01 * rng.standard_normal(k.size))
    fitted = fit_svi(k, noisy)
    assert fitted.is_admissible()
    fitted_w = np.array([naive_svi.slice_total_variance(tuple(fitted.as_array()), x) for x in k])
    assert np.sqrt(np.mean((fitted_w / clean - 1.0) ** 2)) < 0.01


def test_fit_respects_lee_wing_bound_even_when_quotes_violate_it():
    k = np.linspace(-2.0, 2.0, 21)
    steep = 0.05 + 3.0 * np.abs(k)  # wing slope 3 > 2: no arbitrage-free slice matches it
    fitted = fit_svi(k, steep)
    assert fitted.b * (1.0 + abs(fitted.rho)) <= 2.0 + 1e-9


def test_fit_rejects_too_few_or_bad_quotes():
    with pytest.raises(ValueError):
        fit_svi(np.array([0.0, 0.1]), np.array([0.04, 0.05]))
    with pytest.raises(ValueError):
        fit_svi(np.linspace(-1, 1, 6), np.array([0.04, 0.05, -0.01, 0.05, 0.04, 0.05]))


def test_jit_and_interpreted_kernels_give_identical_bytes_over_100k_points():
    assert interpreted_output("svi") == svi_outputs()


def test_golden_digest_of_the_fixed_grid_is_unchanged():
    assert digest(svi_outputs()) == SVI_GOLDEN_SHA256


def test_lookups_outside_the_domain_are_rejected():
    surface = svi_surface_fixture()
    for strikes, ts in (([np.inf], [0.5]), ([-1.0], [0.5]), ([100.0], [0.0]), ([100.0], [np.nan])):
        with pytest.raises(ValueError):
            surface_implied_vols(surface, 100.0, np.array(strikes), np.array(ts))
    with pytest.raises(ValueError):
        surface_implied_vols(surface, 0.0, np.array([100.0]), np.array([0.5]))
