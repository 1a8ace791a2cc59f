"""Canonical byte encodings of stored scalar values.

Unsigned integers are 8-byte big-endian: fixed width, one encoding per value,
and byte order equals numeric order. Decoding rejects any other length, so a
corrupted value is caught instead of silently misread.
"""

from __future__ import annotations

U64_MAX = 2**64 - 1


def encode_u64(value: int) -> bytes:
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"{value} does not fit an unsigned 64-bit integer")
    return value.to_bytes(8, "big")


def decode_u64(raw: bytes) -> int:
    if len(raw) != 8:
        raise ValueError(f"stored u64 must be 8 bytes, got {len(raw)}")
    return int.from_bytes(raw, "big")
