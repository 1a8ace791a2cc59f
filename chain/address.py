"""Optio account addresses: bech32 (BIP-173) strings `optio1…` over 20-byte account ids.

An account id is the first 20 bytes of SHA-256 of the signer's 32-byte ed25519
public key. The string form is bech32 with human-readable part `optio`; its
checksum catches any single typo and most longer ones, so a mistyped address is
rejected instead of burning funds. Canonical form is lower case; an all-upper-case
string is accepted too (BIP-173 allows it for QR codes), mixed case is not.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from state.errors import InvalidAddress

HRP = "optio"
ADDRESS_BYTES = 20
MAX_BECH32_LENGTH = 90

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32_CONST = 1


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, data: list[int]) -> list[int]:
    polymod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ _BECH32_CONST
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int] | None:
    """Regroup bits; None when the input has leftover non-zero or over-long padding."""
    acc = 0
    bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_value)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & max_value):
        return None
    return out


def bech32_encode(hrp: str, payload: bytes) -> str:
    """Encode bytes as a lower-case bech32 string with the given human-readable part."""
    data = _convert_bits(payload, 8, 5, pad=True)
    assert data is not None  # padding mode never fails
    return hrp + "1" + "".join(_CHARSET[d] for d in data + _create_checksum(hrp, data))


def bech32_decode(text: str) -> tuple[str, bytes]:
    """Decode and checksum-validate a bech32 string; raise InvalidAddress on any defect."""
    if len(text) > MAX_BECH32_LENGTH:
        raise InvalidAddress(text, f"longer than {MAX_BECH32_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise InvalidAddress(text, "contains characters outside printable ASCII")
    if text.lower() != text and text.upper() != text:
        raise InvalidAddress(text, "mixes upper and lower case")
    lowered = text.lower()
    sep = lowered.rfind("1")
    if sep < 1 or sep + 7 > len(lowered):
        raise InvalidAddress(text, "missing the '1' separator, prefix or checksum")
    hrp = lowered[:sep]
    try:
        data = [_CHARSET_INDEX[c] for c in lowered[sep + 1 :]]
    except KeyError:
        raise InvalidAddress(text, "contains a character that is not in the bech32 alphabet") from None
    if _polymod(_hrp_expand(hrp) + data) != _BECH32_CONST:
        raise InvalidAddress(text, "checksum mismatch (a character is wrong or missing)")
    payload = _convert_bits(data[:-6], 5, 8, pad=False)
    if payload is None:
        raise InvalidAddress(text, "invalid padding in the data part")
    return hrp, bytes(payload)


# Both directions are pure functions of their argument and run for every message of
# every tx; caching spares the Python checksum loop for accounts seen recently.
_ADDRESS_CACHE_SIZE = 65_536


@lru_cache(maxsize=_ADDRESS_CACHE_SIZE)
def format_address(account_id: bytes) -> str:
    """The canonical `optio1…` string of a 20-byte account id."""
    if len(account_id) != ADDRESS_BYTES:
        raise ValueError(f"account id must be {ADDRESS_BYTES} bytes, got {len(account_id)}")
    return bech32_encode(HRP, account_id)


@lru_cache(maxsize=_ADDRESS_CACHE_SIZE)
def parse_address(text: str) -> bytes:
    """The 20-byte account id of an `optio1…` string; raise InvalidAddress otherwise."""
    if not text:
        raise InvalidAddress(text, "empty address")
    hrp, payload = bech32_decode(text)
    if hrp != HRP:
        raise InvalidAddress(text, f"prefix is {hrp!r}, Optio addresses start with '{HRP}1'")
    if len(payload) != ADDRESS_BYTES:
        raise InvalidAddress(text, f"encodes {len(payload)} bytes, an account id is {ADDRESS_BYTES}")
    return payload


def account_id_from_public_key(public_key: bytes) -> bytes:
    """First 20 bytes of SHA-256 of the 32-byte ed25519 public key."""
    return hashlib.sha256(public_key).digest()[:ADDRESS_BYTES]


def address_from_public_key(public_key: bytes) -> str:
    """The `optio1…` address of a 32-byte ed25519 public key."""
    return format_address(account_id_from_public_key(public_key))
