"""Bech32 addresses: round trips, BIP-173 vectors, typo detection, Optio-specific rules."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.address import (
    address_from_public_key,
    bech32_decode,
    bech32_encode,
    format_address,
    parse_address,
)
from state.errors import InvalidAddress

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
account_ids = st.binary(min_size=20, max_size=20)


@given(account_ids)
def test_address_round_trips_through_bech32(account_id: bytes) -> None:
    text = format_address(account_id)
    assert text.startswith("optio1")
    assert text == text.lower()
    assert parse_address(text) == account_id
    assert parse_address(text.upper()) == account_id


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10), st.binary(max_size=40))
def test_bech32_round_trips_any_payload(hrp: str, payload: bytes) -> None:
    text = bech32_encode(hrp, payload)
    if len(text) <= 90:
        assert bech32_decode(text) == (hrp, payload)


@pytest.mark.parametrize(
    "valid",
    [
        "A12UEL5L",
        "a12uel5l",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    ],
)
def test_bip173_valid_strings_decode(valid: str) -> None:
    hrp, _ = bech32_decode(valid)
    assert hrp == valid.lower()[: valid.rfind("1")]


@pytest.mark.parametrize(
    ("invalid", "reason"),
    [
        ("pzry9x0s0muk", "separator"),
        ("1pzry9x0s0muk", "separator"),
        ("x1b4n0q5v", "alphabet"),
        ("li1dgmt3", "separator"),
        ("A1G7SGD8", "checksum"),
        ("10a06t8", "separator"),
        ("a12UEL5L", "mixes upper and lower case"),
        ("\x201nwldj5", "printable ASCII"),
    ],
)
def test_bip173_invalid_strings_are_rejected_with_reason(invalid: str, reason: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        bech32_decode(invalid)
    assert info.value.code == 12
    assert reason in info.value.message


@given(account_ids, st.data())
def test_any_single_character_typo_is_detected(account_id: bytes, data: st.DataObject) -> None:
    text = format_address(account_id)
    position = data.draw(st.integers(min_value=len("optio1"), max_value=len(text) - 1))
    replacement = data.draw(st.sampled_from([c for c in _CHARSET if c != text[position]]))
    typo = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(InvalidAddress, match="checksum"):
        parse_address(typo)


def test_address_with_foreign_prefix_is_rejected() -> None:
    foreign = bech32_encode("cosmos", bytes(20))
    with pytest.raises(InvalidAddress, match="prefix is 'cosmos'"):
        parse_address(foreign)


def test_address_of_wrong_length_is_rejected() -> None:
    with pytest.raises(InvalidAddress, match="encodes 32 bytes"):
        parse_address(bech32_encode("optio", bytes(32)))


def test_empty_address_is_rejected() -> None:
    with pytest.raises(InvalidAddress, match="empty"):
        parse_address("")


def test_address_is_first_20_bytes_of_sha256_of_public_key() -> None:
    public_key = bytes(range(32))
    expected = format_address(hashlib.sha256(public_key).digest()[:20])
    assert address_from_public_key(public_key) == expected
