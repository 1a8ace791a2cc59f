"""Scenario revaluation: grid layout, agreement with the reference, risk properties, determinism."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.portfolio import (
    CALL,
    FUTURE,
    PUT,
    ScenarioGrid,
    instrument_pnl_vectors,
    revalue_account,
    revalue_account_on_vectors,
    revalue_accounts,
)
from tests.pricing import naive_portfolio
from tests.pricing.determinism_grids import digest, interpreted_output, portfolio_outputs, random_instruments

PORTFOLIO_GOLDEN_SHA256 = "ca82d7855051e8721c26a3ca101cfd9d3e9d1109039cb87ac33ff97dc659e913"
GRID = ScenarioGrid()


def _positions(inst: dict, qty: np.ndarray) -> list[tuple]:
    return list(
        zip(
            inst["kind"].tolist(),
            inst["strike"].tolist(),
            inst["expiry"].tolist(),
            inst["forward"].tolist(),
            inst["vol"].tolist(),
            qty.tolist(),
        )
    )


def _one(kind: int, strike: float, t: float, vol: float, qty: int, fwd: float = 100.0):
    return revalue_account(GRID, [kind], [strike], [t], [fwd], [vol], np.array([qty]))


def test_default_grid_is_deribit_shaped():
    assert GRID.n_scenarios == 9 * 3 + 8
    np.testing.assert_allclose(GRID.spot_moves[:9], np.linspace(-0.16, 0.16, 9))
    assert GRID.spot_moves[9] == -0.66 and GRID.spot_moves[-1] == 5.0
    labels = GRID.labels()
    assert labels[:3] == [(-0.16, "up"), (-0.16, "flat"), (-0.16, "down")]
    assert labels[-1] == (5.0, "flat") and len(labels) == GRID.n_scenarios


def test_accounts_match_the_reference_on_every_scenario():
    rng = np.random.default_rng(5)
    for _ in range(20):
        inst = random_instruments(rng, 40)
        qty = rng.integers(-100, 100, 40)
        risk = revalue_account(GRID, qty=qty, rate=0.02, **inst)
        ref_pnl, ref_worst = naive_portfolio.account_pnl(GRID, _positions(inst, qty), rate=0.02)
        scale = float(np.abs(qty).sum()) * 100.0
        np.testing.assert_allclose(risk.pnl, ref_pnl, rtol=0, atol=1e-11 * scale)
        assert risk.worst_loss == pytest.approx(ref_worst, abs=1e-11 * scale)


def test_batched_accounts_equal_one_account_at_a_time():
    rng = np.random.default_rng(6)
    inst = random_instruments(rng, 200)
    vectors = instrument_pnl_vectors(GRID, rate=0.01, **inst)
    offsets = np.array([0, 0, 3, 50, 51, 120])
    index = rng.integers(0, 200, 120)
    qty = rng.integers(-30, 30, 120)
    worst, pnl = revalue_accounts(GRID, vectors, offsets, index, qty, keep_pnl=True)
    assert worst[0] == 0.0 and np.all(pnl[0] == 0.0)  # an empty account risks nothing
    for a in range(1, 5):
        rows = slice(offsets[a], offsets[a + 1])
        picked = {key: val[index[rows]] for key, val in inst.items()}
        one = revalue_account(GRID, qty=qty[rows], rate=0.01, **picked)
        np.testing.assert_allclose(pnl[a], one.pnl, rtol=1e-13, atol=1e-9)
        assert worst[a] == pytest.approx(one.worst_loss, rel=1e-13, abs=1e-9)


def test_one_account_on_cached_vectors_equals_full_repricing():
    rng = np.random.default_rng(8)
    inst = random_instruments(rng, 50)
    vectors = instrument_pnl_vectors(GRID, rate=0.02, **inst)
    index = rng.choice(50, 20, replace=False)
    qty = rng.integers(-9, 9, 20)
    cached = revalue_account_on_vectors(GRID, vectors, index, qty)
    full = revalue_account(GRID, qty=qty, rate=0.02, **{k: v[index] for k, v in inst.items()})
    np.testing.assert_allclose(cached.pnl, full.pnl, rtol=1e-13, atol=1e-10)
    assert cached.worst_loss == pytest.approx(full.worst_loss, rel=1e-13, abs=1e-10)


def test_long_options_lose_at_most_their_premium():
    for kind in (CALL, PUT):
        for strike in (60.0, 100.0, 150.0):
            risk = _one(kind, strike, 0.25, 0.8, 10)
            premium = 10 * naive_portfolio.black76(kind == CALL, 100.0, strike, 0.25, 0.8, 0.0)
            assert 0.0 <= risk.worst_loss <= premium + 1e-9


def test_short_call_worst_case_is_the_largest_extended_up_move():
    risk = _one(CALL, 100.0, 0.1, 0.6, -1)
    worst_index = int(np.argmin(risk.pnl))
    assert GRID.labels()[worst_index] == (5.0, "flat")
    # Deep in the money after +500%, the call is worth about 600 - 100 and was bought back at a loss.
    assert risk.worst_loss == pytest.approx(0.25 * (500.0 - _premium(CALL, 100.0, 0.1, 0.6)), rel=1e-6)


def _premium(kind: int, strike: float, t: float, vol: float) -> float:
    return naive_portfolio.black76(kind == CALL, 100.0, strike, t, vol, 0.0)


def test_short_straddle_loses_most_with_vol_up_at_a_grid_edge():
    risk = revalue_account(
        ScenarioGrid(extended_moves=()), [CALL, PUT], [100.0, 100.0], [0.5, 0.5], [100.0, 100.0],
        [0.5, 0.5], np.array([-1, -1]),
    )
    spot, vol = GRID.labels()[int(np.argmin(risk.pnl))]
    assert abs(spot) == 0.16 and vol == "up"


def test_future_pnl_is_linear_in_the_spot_move():
    risk = _one(FUTURE, 0.0, 0.5, 0.0, 3, fwd=250.0)
    moves = np.repeat(GRID.spot_moves[:9], 3)
    np.testing.assert_allclose(risk.pnl[:27], 3 * 250.0 * moves, rtol=1e-15)
    np.testing.assert_allclose(risk.pnl[27:], 0.25 * 3 * 250.0 * GRID.spot_moves[9:], rtol=1e-15)


def test_call_plus_short_future_hedge_matches_put_risk():
    # Put-call parity at r = 0: long call + short forward = long put + (F - K) constant.
    call_hedged = revalue_account(
        GRID, [CALL, FUTURE], [90.0, 0.0], [0.3, 0.3], [100.0, 100.0], [0.7, 0.0], np.array([1, -1])
    )
    put = _one(PUT, 90.0, 0.3, 0.7, 1)
    np.testing.assert_allclose(call_hedged.pnl, put.pnl, rtol=0, atol=1e-12)


def test_opposite_positions_cancel_exactly():
    risk = revalue_account(
        GRID, [CALL, CALL], [110.0, 110.0], [0.2, 0.2], [100.0, 100.0], [0.9, 0.9], np.array([7, -7])
    )
    assert risk.worst_loss == 0.0 and np.all(risk.pnl == 0.0)


def test_worst_loss_scales_with_quantity():
    one = _one(PUT, 95.0, 0.4, 0.6, -1)
    many = _one(PUT, 95.0, 0.4, 0.6, -1000)
    assert many.worst_loss == pytest.approx(1000 * one.worst_loss, rel=1e-14)


def test_larger_vol_shock_never_lowers_a_short_option_margin():
    calm = ScenarioGrid(vol_range_up=0.2)
    wild = ScenarioGrid(vol_range_up=0.8)
    for kind in (CALL, PUT):
        args = ([kind], [100.0], [0.2], [100.0], [0.5], np.array([-5]))
        assert revalue_account(wild, *args).worst_loss >= revalue_account(calm, *args).worst_loss


def test_vol_shock_is_larger_for_short_expiries():
    pnl_short = _one(CALL, 100.0, 2.0 / 365.0, 0.5, 1).pnl
    pnl_long = _one(CALL, 100.0, 180.0 / 365.0, 0.5, 1).pnl
    centre = 4 * 3  # spot move 0: (up, flat, down) at indices 12, 13, 14
    rel_short = (pnl_short[centre] - pnl_short[centre + 2]) / _premium(CALL, 100.0, 2 / 365, 0.5)
    rel_long = (pnl_long[centre] - pnl_long[centre + 2]) / _premium(CALL, 100.0, 180 / 365, 0.5)
    assert rel_short > rel_long > 0.0


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError):
        _one(3, 100.0, 0.5, 0.5, 1)  # unknown kind
    with pytest.raises(ValueError):
        revalue_account(GRID, [CALL], [100.0], [0.5], [100.0], [0.5], np.array([1.5]))  # fractional qty
    with pytest.raises(ValueError):
        _one(CALL, -1.0, 0.5, 0.5, 1)
    with pytest.raises(ValueError):
        revalue_accounts(GRID, np.zeros((2, GRID.n_scenarios)), [0, 2], [0, 2], np.array([1, 1]))
    with pytest.raises(ValueError):
        ScenarioGrid(price_range=1.5)


accounts = st.lists(st.tuples(st.integers(0, 39), st.integers(-1000, 1000)), min_size=1, max_size=12)


@functools.cache
def _universe_vectors() -> np.ndarray:
    return instrument_pnl_vectors(GRID, **random_instruments(np.random.default_rng(9), 40))


def _worst(rows: list[tuple[int, int]]) -> float:
    index = np.array([i for i, _ in rows])
    qty = np.array([q for _, q in rows])
    return revalue_account_on_vectors(GRID, _universe_vectors(), index, qty).worst_loss


@settings(max_examples=200, deadline=None)
@given(accounts, accounts)
def test_margin_of_two_books_together_never_exceeds_the_sum_of_their_margins(a, b):
    assert _worst(a + b) <= _worst(a) + _worst(b) + 1e-9 * (1.0 + _worst(a) + _worst(b))


@settings(max_examples=200, deadline=None)
@given(accounts, st.integers(1, 50))
def test_margin_scales_with_position_size(rows, factor):
    scaled = [(i, q * factor) for i, q in rows]
    assert _worst(scaled) == pytest.approx(factor * _worst(rows), rel=1e-12, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(accounts, st.randoms(use_true_random=False))
def test_margin_does_not_depend_on_the_order_of_positions(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert _worst(shuffled) == pytest.approx(_worst(rows), rel=1e-12, abs=1e-9)


def test_jit_and_interpreted_kernels_give_identical_bytes_over_100k_prices():
    assert interpreted_output("portfolio") == portfolio_outputs()


def test_golden_digest_of_the_fixed_grid_is_unchanged():
    assert digest(portfolio_outputs()) == PORTFOLIO_GOLDEN_SHA256
