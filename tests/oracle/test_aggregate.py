"""Stake-weighted median, aggregation thresholds and TWAP over irregular block times."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.oracle.extension import Observation
from state.oracle import (
    OracleParams,
    Vote,
    compute_aggregate,
    compute_weighted_median,
    get_price,
    get_twap,
    process_oracle_aggregate,
    set_oracle_params,
)
from state.store import Store, WorkingState

S = 1_000_000_000


def test_weighted_median_follows_the_weight_not_the_count() -> None:
    assert compute_weighted_median([(100, 1), (200, 1), (300, 5)]) == 300
    assert compute_weighted_median([(100, 5), (200, 1), (300, 1)]) == 100


def test_weighted_median_exact_half_split_takes_the_lower_price() -> None:
    assert compute_weighted_median([(100, 2), (200, 2)]) == 100
    assert compute_weighted_median([(200, 2), (100, 2)]) == 100


def test_weighted_median_ties_in_price_pool_their_weight() -> None:
    assert compute_weighted_median([(100, 1), (150, 1), (150, 1), (900, 2)]) == 150


@given(st.lists(st.tuples(st.integers(1, 10**12), st.integers(1, 10**6)), min_size=1, max_size=30))
def test_weighted_median_is_independent_of_input_order_and_within_range(
    points: list[tuple[int, int]],
) -> None:
    median = compute_weighted_median(points)
    assert median == compute_weighted_median(list(reversed(points)))
    prices = [p for p, _ in points]
    assert min(prices) <= median <= max(prices)
    total = sum(w for _, w in points)
    assert 2 * sum(w for p, w in points if p <= median) >= total
    assert 2 * sum(w for p, w in points if p >= median) >= total


def obs(*prices: int | None) -> Observation:
    return Observation(tuple((i, p) for i, p in enumerate(prices) if p is not None))


PARAMS = OracleParams(underlyings=("BTC", "ETH"), min_power_share_ppm=666_667)


def test_one_wild_validator_of_four_cannot_move_the_median() -> None:
    votes = [Vote(10, obs(100_000, 3_000)), Vote(10, obs(100_010, 3_001)),
             Vote(10, obs(99_990, 2_999)), Vote(10, obs(10**15, 1))]
    (btc, eth) = compute_aggregate(PARAMS, votes, 40)
    assert btc is not None and 99_990 <= btc[0] <= 100_010
    assert eth is not None and 2_999 <= eth[0] <= 3_001


def test_abstentions_below_the_power_share_leave_the_price_unchanged() -> None:
    votes = [Vote(10, obs(100, 3)), Vote(10, obs(101, None)), Vote(10, obs(None, None)),
             Vote(10, obs(102, None))]
    btc, eth = compute_aggregate(PARAMS, votes, 40)
    assert btc == (101, 30, 40)  # 3/4 of the power reported
    assert eth is None  # 1/4 reported


def test_exactly_two_thirds_is_not_enough_with_the_default_share() -> None:
    votes = [Vote(1, obs(5, None)), Vote(1, obs(6, None))]
    assert compute_aggregate(PARAMS, votes, 3)[0] is None
    assert compute_aggregate(PARAMS, votes + [Vote(1, obs(7, None))], 3)[0] == (6, 3, 3)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[WorkingState]:
    store = Store(tmp_path / "db")
    working = store.working()
    set_oracle_params(working, OracleParams(underlyings=("BTC",), twap_history_len=4))
    yield working
    store.close()


def record(ws: WorkingState, height: int, t: int, price: int) -> None:
    process_oracle_aggregate(ws, [Vote(1, obs(price))], 1, height=height, time_ns=t)


def test_twap_weights_each_price_by_how_long_it_held(ws: WorkingState) -> None:
    record(ws, 1, 100 * S, 1_000)
    record(ws, 2, 101 * S, 2_000)  # held 9 s
    record(ws, 3, 110 * S, 4_000)  # held 0.5 s
    record(ws, 4, 110 * S + S // 2, 1_000)
    # window [100.5 s, 112 s]: 1000·0.5 + 2000·9 + 4000·0.5 + 1000·1.5 = 22000 over 11.5 s
    twap = get_twap(ws, "BTC", 23 * S // 2, 112 * S)
    assert twap is not None
    assert twap.price_ticks == 22_000 * 2 // 23  # 1913.04… rounded down
    assert twap.covered_ns == 23 * S // 2 and twap.observations == 4
    latest = get_price(ws, "BTC")
    assert latest is not None and latest.price_ticks == 1_000


def test_twap_rounds_down(ws: WorkingState) -> None:
    record(ws, 1, 0, 1)
    record(ws, 2, 2 * S, 2)
    twap = get_twap(ws, "BTC", 3 * S, 3 * S)
    assert twap is not None and twap.price_ticks == 1  # (1·2 + 2·1) / 3 = 4/3, rounded down


def test_twap_window_longer_than_history_covers_what_exists(ws: WorkingState) -> None:
    for h in range(1, 7):  # ring keeps the newest 4: times 3..6 s
        record(ws, h, h * S, 100 * h)
    twap = get_twap(ws, "BTC", 3600 * S, 7 * S)
    assert twap is not None and twap.covered_ns == 4 * S
    assert twap.price_ticks == (300 + 400 + 500 + 600) // 4
    assert sum(1 for _ in ws.iterate(b"orc/obs/")) == 4


def test_twap_of_a_window_inside_one_price_is_that_price(ws: WorkingState) -> None:
    record(ws, 1, 10 * S, 777)
    record(ws, 2, 20 * S, 999)
    inside, at_end = get_twap(ws, "BTC", S, 15 * S), get_twap(ws, "BTC", 0, 20 * S)
    assert inside is not None and inside.price_ticks == 777
    assert at_end is not None and at_end.price_ticks == 999
    assert get_twap(ws, "BTC", S, 5 * S) is None
    assert get_twap(ws, "ETH", S, 5 * S) is None
