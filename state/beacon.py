"""The randomness beacon: each block's VDF evaluation, stored per height.

FinalizeBlock of height H records the seed and output y of the block's ordering tx (already
verified by ProcessProposal, or committed by > 2/3 of the validators when replayed). Later
consumers (Monte Carlo seeds, spot-check proof sampling) read `Beacon.randomness`, a 32-byte
digest of y under its own domain tag, so they never use the raw class-group element.

Stored value under `keys.beacon_key(H)`: version byte 1 ‖ u64 T big-endian ‖ seed (32 bytes)
‖ y (100 bytes). One record per block (141 bytes); nothing prunes them yet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Protocol

from state import keys
from state.codec import decode_u64, encode_u64

RANDOMNESS_DOMAIN: Final[bytes] = b"optio/beacon/v1\x00"
_VERSION: Final[int] = 1
_SEED_BYTES: Final[int] = 32
_Y_BYTES: Final[int] = 100
_RECORD_BYTES: Final[int] = 1 + 8 + _SEED_BYTES + _Y_BYTES


class BeaconState(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def set(self, key: bytes, value: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Beacon:
    """The VDF evaluation of one block."""

    height: int
    seed: bytes
    """The block seed (chain/ordering.py `compute_seed`)."""
    y: bytes
    """VDF output: chiavdf's 100-byte compressed class-group element."""
    iterations: int
    """T the output was computed with."""

    @property
    def randomness(self) -> bytes:
        """32 bytes of public randomness of this block: SHA-256(domain ‖ y)."""
        return hashlib.sha256(RANDOMNESS_DOMAIN + self.y).digest()

    def encode(self) -> bytes:
        return bytes((_VERSION,)) + encode_u64(self.iterations) + self.seed + self.y

    @classmethod
    def decode(cls, height: int, raw: bytes) -> Beacon:
        if len(raw) != _RECORD_BYTES or raw[0] != _VERSION:
            raise ValueError(f"beacon record of {len(raw)} bytes (version {raw[:1].hex()}), "
                             f"expected {_RECORD_BYTES} bytes of version {_VERSION}")
        return cls(height=height, iterations=decode_u64(raw[1:9]),
                   seed=raw[9:9 + _SEED_BYTES], y=raw[9 + _SEED_BYTES:])


def process_beacon(ws: BeaconState, beacon: Beacon) -> None:
    """Record the beacon of the block being executed; a height is written once."""
    if len(beacon.seed) != _SEED_BYTES or len(beacon.y) != _Y_BYTES:
        raise ValueError("beacon seed must be 32 bytes and y 100 bytes")
    if beacon.height < 1:
        raise ValueError(f"beacon height {beacon.height} must be at least 1")
    key = keys.beacon_key(beacon.height)
    if ws.get(key) is not None:
        raise RuntimeError(f"beacon of height {beacon.height} recorded twice")
    ws.set(key, beacon.encode())


def get_beacon(ws: BeaconState, height: int) -> Beacon | None:
    """The beacon of block `height`, None if that block has not been executed."""
    if not 0 <= height < 1 << 64:
        return None
    raw = ws.get(keys.beacon_key(height))
    return None if raw is None else Beacon.decode(height, raw)
