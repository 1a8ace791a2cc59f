"""The oracle vote extension: a compact, versioned observation of one validator.

Version 1 layout (all integers big-endian)::

    version   u8  = 1
    count     u8  number of entries, 0..len(underlyings)
    entries   count × (index u8, price_ticks u64)

`index` is the position of the underlying in the genesis list `OracleParams.underlyings`;
entries are in strictly increasing index order (one canonical encoding per observation) and
an underlying that is not listed is an abstention. Prices are integer ticks (micro-USD per
unit of the underlying), 1 ≤ price ≤ 2^63 − 1. The empty byte string abstains on everything.
Vol-surface parameters will come as a new version with its own entry layout; a node accepts
only versions it knows, so that change is a coordinated upgrade.

`decode_extension` is the whole of VerifyVoteExtension: a pure function of the bytes and the
genesis parameters, so every honest node gives the same answer, and `encode_extension` only
produces what it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = 1
ENTRY_BYTES = 9
HEADER_BYTES = 2
MAX_PRICE_TICKS = 2**63 - 1


class ExtensionError(ValueError):
    """The bytes are not a valid oracle vote extension under the given parameters."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One validator's prices: (underlying index, price ticks), indices strictly increasing."""

    prices: tuple[tuple[int, int], ...] = ()

    def price_of(self, index: int) -> int | None:
        for i, price in self.prices:
            if i == index:
                return price
        return None


def extension_size(count: int) -> int:
    """Encoded size of an observation with `count` prices (0 → the empty extension)."""
    return 0 if count == 0 else HEADER_BYTES + ENTRY_BYTES * count


def encode_extension(observation: Observation, *, n_underlyings: int, max_bytes: int) -> bytes:
    """The canonical bytes of `observation`; raises ExtensionError if it is not encodable."""
    if not observation.prices:
        return b""
    out = bytearray((VERSION, len(observation.prices)))
    previous = -1
    for index, price in observation.prices:
        if not previous < index < n_underlyings:
            raise ExtensionError(f"underlying index {index} out of order or unknown")
        if not 1 <= price <= MAX_PRICE_TICKS:
            raise ExtensionError(f"price {price} out of range")
        out.append(index)
        out += price.to_bytes(8, "big")
        previous = index
    if len(out) > max_bytes:
        raise ExtensionError(f"extension of {len(out)} bytes exceeds {max_bytes}")
    return bytes(out)


def decode_extension(raw: bytes, *, n_underlyings: int, max_bytes: int) -> Observation:
    """The observation carried by `raw`; ExtensionError on any defect (size, version,
    count, order, unknown underlying, price bounds, trailing bytes)."""
    if not raw:
        return Observation()
    if len(raw) > max_bytes:
        raise ExtensionError(f"extension of {len(raw)} bytes exceeds {max_bytes}")
    if len(raw) < HEADER_BYTES:
        raise ExtensionError("truncated header")
    if raw[0] != VERSION:
        raise ExtensionError(f"unknown extension version {raw[0]}")
    count = raw[1]
    if count == 0:
        raise ExtensionError("zero entries: abstain with the empty extension")
    if len(raw) != HEADER_BYTES + ENTRY_BYTES * count:
        raise ExtensionError(f"{len(raw)} bytes for {count} entries")
    prices: list[tuple[int, int]] = []
    previous = -1
    for offset in range(HEADER_BYTES, len(raw), ENTRY_BYTES):
        index = raw[offset]
        price = int.from_bytes(raw[offset + 1 : offset + ENTRY_BYTES], "big")
        if not previous < index < n_underlyings:
            raise ExtensionError(f"underlying index {index} out of order or unknown")
        if not 1 <= price <= MAX_PRICE_TICKS:
            raise ExtensionError(f"price {price} out of range")
        prices.append((index, price))
        previous = index
    return Observation(tuple(prices))
