"""Public-key screening: real keys pass; small-order, non-canonical and off-curve keys fail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.ed25519 import is_valid_public_key
from chain.tx import public_key_bytes

# The eight points of order dividing 8, with both sign bits where x != 0.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # neutral, order 1
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
]


@given(st.binary(min_size=32, max_size=32))
def test_keys_made_from_any_seed_are_valid(seed: bytes) -> None:
    assert is_valid_public_key.__wrapped__(public_key_bytes(seed))


@pytest.mark.parametrize("encoded", SMALL_ORDER)
def test_small_order_points_are_refused(encoded: str) -> None:
    assert not is_valid_public_key(bytes.fromhex(encoded))


def test_non_canonical_y_coordinate_is_refused() -> None:
    # y = p + 1 encodes the neutral element a second time.
    y = 2**255 - 19 + 1
    assert not is_valid_public_key(y.to_bytes(32, "little"))


def test_y_without_a_curve_point_is_refused() -> None:
    # y = 2: (y^2 - 1) / (d y^2 + 1) is not a square mod p, so no x exists.
    assert not is_valid_public_key((2).to_bytes(32, "little"))


def test_wrong_length_is_refused() -> None:
    assert not is_valid_public_key(bytes(31))
