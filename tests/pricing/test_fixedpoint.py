"""Fixed-point boundary: exact conversion of floats to integer units with the named rounding."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pricing import (
    MICRO,
    to_micro_ceil,
    to_micro_floor,
    to_micro_half_even,
    to_units_ceil,
    to_units_ceil_array,
    to_units_floor,
    to_units_floor_array,
    to_units_half_even,
    to_units_half_even_array,
    units_to_float,
)

TICK = Fraction(5, 10_000)  # a 0.0005 price tick


def test_floor_and_ceil_use_the_exact_value_of_the_float_not_its_decimal_look():
    # 0.1 is 0.1000000000000000055511151231257827… exactly: just above 100000 micro.
    assert (to_micro_floor(0.1), to_micro_ceil(0.1)) == (100_000, 100_001)
    # 0.3 is 0.299999999999999988897769753748434595…: just below 300000 micro.
    assert (to_micro_floor(0.3), to_micro_ceil(0.3)) == (299_999, 300_000)


def test_values_that_are_whole_units_are_exact_in_every_direction():
    for value in (0.0, 0.5, 1.0, 3.25, -2.75, 1024.0):
        expected = Fraction(value) / Fraction(1, 4)
        assert expected.denominator == 1
        for convert in (to_units_floor, to_units_ceil, to_units_half_even):
            assert convert(value, Fraction(1, 4)) == expected.numerator


def test_negative_values_round_toward_minus_and_plus_infinity():
    assert to_units_floor(-0.1, MICRO) == -100_001
    assert to_units_ceil(-0.1, MICRO) == -100_000
    assert to_units_floor(-1.5, 1) == -2
    assert to_units_ceil(-1.5, 1) == -1


def test_half_even_rounds_exact_ties_to_the_even_neighbour():
    assert [to_units_half_even(v, 1) for v in (0.5, 1.5, 2.5, -0.5, -1.5, -2.5)] == [0, 2, 2, 0, -2, -2]
    # 0.0005 is not a tie in ticks of 0.001 because the float is not exactly 0.0005.
    assert to_units_half_even(0.0005, Fraction(1, 1000)) == 1
    assert Fraction(2.5e-6) > Fraction(25, 10**7)
    assert to_micro_half_even(2.5e-6) == 3  # the float 2.5e-6 is slightly above 2.5 micro


def test_ticks_use_an_exact_rational_tick_size():
    assert to_units_floor(101.0, TICK) == 202_000
    assert to_units_ceil(100.00025, TICK) == 200_001
    assert to_units_floor(100.00025, TICK) == 200_000


@given(st.floats(-1e12, 1e12, allow_nan=False), st.integers(1, 10**9), st.integers(1, 10**9))
def test_rounding_brackets_the_exact_quotient(value, num, den):
    unit = Fraction(num, den)
    exact = Fraction(value) / unit
    assume(abs(exact) < 2**63 - 1)  # beyond, the result is refused (the test below)
    low, high, nearest = to_units_floor(value, unit), to_units_ceil(value, unit), to_units_half_even(value, unit)
    assert low <= exact <= high and high - low <= 1
    assert (high == low) == (exact.denominator == 1)
    assert abs(nearest - exact) <= Fraction(1, 2)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(value):
    with pytest.raises(ValueError, match="non-finite"):
        to_micro_floor(value)


def test_results_outside_int64_are_rejected_not_clipped():
    with pytest.raises(ValueError, match="64-bit"):
        to_micro_ceil(1e13)  # 1e19 micro-units
    assert to_micro_floor(9e12) == 9 * 10**18


@pytest.mark.parametrize("unit", [0.001, 0, -1, Fraction(-1, 2), True])
def test_inexact_or_non_positive_units_are_rejected(unit):
    with pytest.raises(ValueError, match="unit"):
        to_units_floor(1.0, unit)


def test_array_versions_match_the_scalar_functions_and_return_int64():
    values = np.random.default_rng(9).uniform(-1e6, 1e6, (40, 25))
    pairs = (
        (to_units_floor_array, to_units_floor),
        (to_units_ceil_array, to_units_ceil),
        (to_units_half_even_array, to_units_half_even),
    )
    for array_fn, scalar_fn in pairs:
        out = array_fn(values, MICRO)
        assert out.dtype == np.int64 and out.shape == values.shape
        assert out.tolist() == [[scalar_fn(float(v), MICRO) for v in row] for row in values]


def test_array_versions_reject_any_non_finite_element():
    with pytest.raises(ValueError, match="non-finite"):
        to_units_floor_array(np.array([1.0, np.nan]), MICRO)


def test_units_to_float_is_the_nearest_double():
    assert units_to_float(1, MICRO) == 1e-6
    assert units_to_float(200_001, TICK) == 100.0005
    assert units_to_float(-3, Fraction(1, 3)) == -1.0
    with pytest.raises(ValueError):
        units_to_float(1.5, MICRO)


# Below 2^51 micro-units (≈ 2.25e9 whole units) doubles are spaced under half a micro-unit.
@given(st.integers(-(2**51), 2**51))
def test_micro_units_round_trip_through_float_and_half_even(n):
    assert to_micro_half_even(units_to_float(n, MICRO)) == n
