"""The block clock: height and time of the block being executed, written at the start of
FinalizeBlock. Block time (BFT time from the header, agreed by consensus) is the only clock a
transition may read (DESIGN §4); unbonding periods, jail durations, TWAP windows and expiries
are measured against it.

Stored value: 8-byte big-endian height ‖ 8-byte big-endian time in nanoseconds since the Unix
epoch (block times are after 1970, so unsigned is enough).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from state import keys
from state.codec import decode_u64, encode_u64

if TYPE_CHECKING:
    from state.params import KVState

NANOS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BlockHeader:
    height: int
    time_ns: int

    def encode(self) -> bytes:
        return encode_u64(self.height) + encode_u64(self.time_ns)

    @classmethod
    def decode(cls, raw: bytes) -> BlockHeader:
        if len(raw) != 16:
            raise ValueError(f"block header record of {len(raw)} bytes, expected 16")
        return cls(height=decode_u64(raw[:8]), time_ns=decode_u64(raw[8:]))


def get_block_header(ws: KVState) -> BlockHeader | None:
    """The header of the block being executed (or the last executed), None before block 1."""
    raw = ws.get(keys.BLOCK_HEADER_KEY)
    return None if raw is None else BlockHeader.decode(raw)


def process_block_header(ws: KVState, header: BlockHeader) -> None:
    """Record the new block's height and time; both must move forward."""
    previous = get_block_header(ws)
    if previous is not None and (header.height <= previous.height
                                 or header.time_ns < previous.time_ns):
        raise RuntimeError(f"block clock went backwards: {previous} -> {header}")
    ws.set(keys.BLOCK_HEADER_KEY, header.encode())
