"""The vote-extension codec: canonical, size-capped, and it accepts all it produces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.oracle.extension import (
    MAX_PRICE_TICKS,
    ExtensionError,
    Observation,
    decode_extension,
    encode_extension,
)

N, MAX = 3, 64


@given(st.dictionaries(st.integers(0, N - 1), st.integers(1, MAX_PRICE_TICKS)))
def test_every_encodable_observation_decodes_to_itself(prices: dict[int, int]) -> None:
    observation = Observation(tuple(sorted(prices.items())))
    raw = encode_extension(observation, n_underlyings=N, max_bytes=MAX)
    assert decode_extension(raw, n_underlyings=N, max_bytes=MAX) == observation


@given(st.binary(max_size=80))
def test_decoding_arbitrary_bytes_either_fails_cleanly_or_round_trips(raw: bytes) -> None:
    try:
        observation = decode_extension(raw, n_underlyings=N, max_bytes=MAX)
    except ExtensionError:
        return
    assert encode_extension(observation, n_underlyings=N, max_bytes=MAX) == raw


def test_the_empty_extension_abstains_on_everything() -> None:
    assert decode_extension(b"", n_underlyings=N, max_bytes=MAX) == Observation()
    assert encode_extension(Observation(), n_underlyings=N, max_bytes=MAX) == b""


@pytest.mark.parametrize("raw", [
    bytes((2, 1, 0)) + (5).to_bytes(8, "big"),  # unknown version
    bytes((1, 0)),  # zero entries
    bytes((1, 1, 3)) + (5).to_bytes(8, "big"),  # unknown underlying
    bytes((1, 1, 0)) + (0).to_bytes(8, "big"),  # zero price
    bytes((1, 1, 0)) + (2**63).to_bytes(8, "big"),  # price above int64
    bytes((1, 2, 1)) + (5).to_bytes(8, "big") + bytes((0,)) + (5).to_bytes(8, "big"),  # order
    bytes((1, 1, 0)) + (5).to_bytes(8, "big") + b"\0",  # trailing byte
    bytes((1,)),  # truncated
])
def test_malformed_extensions_are_rejected(raw: bytes) -> None:
    with pytest.raises(ExtensionError):
        decode_extension(raw, n_underlyings=N, max_bytes=MAX)


def test_size_cap_applies_before_anything_else() -> None:
    raw = encode_extension(Observation(((0, 1), (1, 2))), n_underlyings=N, max_bytes=MAX)
    with pytest.raises(ExtensionError):
        decode_extension(raw, n_underlyings=N, max_bytes=len(raw) - 1)
