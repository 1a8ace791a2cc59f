"""ABCI 2.0 wire framing: each message is an unsigned LEB128 varint length followed by that many
protobuf bytes (CometBFT v0.38; not the zigzag-signed framing of v0.34).

`FrameDecoder` turns an arbitrarily chunked byte stream back into frames and rejects garbage
(an over-long varint, a declared length above the limit) before buffering the payload."""

from __future__ import annotations

from typing import Final

DEFAULT_MAX_FRAME_BYTES: Final[int] = 128 * 1024 * 1024
# A uint64 needs at most 10 LEB128 bytes; CometBFT's binary.Uvarint rejects anything longer.
MAX_VARINT_BYTES: Final[int] = 10
_UINT64_LIMIT: Final[int] = 1 << 64


class FrameError(ValueError):
    """The byte stream cannot be framed: the connection it came from must be dropped."""


def encode_uvarint(value: int) -> bytes:
    """Unsigned LEB128 encoding of `value` (0 <= value < 2**64)."""
    if value < 0 or value >= _UINT64_LIMIT:
        raise ValueError(f"uvarint out of range: {value}")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_frame(payload: bytes) -> bytes:
    """One wire frame: the uvarint length of `payload`, then `payload`."""
    return encode_uvarint(len(payload)) + payload


class FrameDecoder:
    """Incremental decoder: `feed` bytes as they arrive, then take frames with `next_frame` until it
    returns None (more bytes needed). Once it raises `FrameError` the stream is unusable."""

    __slots__ = ("_buf", "_pos", "_max")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 0:
            raise ValueError("max_frame_bytes must be >= 0")
        self._buf = bytearray()
        self._pos = 0
        self._max = max_frame_bytes

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        # Compact lazily, once per feed, so a burst of small frames costs no per-frame memmove.
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_frame(self) -> bytes | None:
        buf = self._buf
        pos = self._pos
        end = len(buf)
        if pos >= end:
            return None
        first = buf[pos]
        if first < 0x80:
            length = first
            start = pos + 1
        else:
            length, start = self._read_long_varint(pos, end)
            if start < 0:
                return None
        if length > self._max:
            raise FrameError(f"frame of {length} bytes exceeds the limit of {self._max} bytes")
        stop = start + length
        if stop > end:
            return None
        self._pos = stop
        return bytes(buf[start:stop])

    def _read_long_varint(self, pos: int, end: int) -> tuple[int, int]:
        """(value, index after the varint), or (0, -1) when the varint is still incomplete."""
        buf = self._buf
        value = 0
        shift = 0
        for i in range(pos, min(end, pos + MAX_VARINT_BYTES)):
            byte = buf[i]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if value >= _UINT64_LIMIT:
                    raise FrameError("frame length varint overflows 64 bits")
                return value, i + 1
            shift += 7
            # Reject an oversize declared length as soon as its known bits exceed the limit.
            if value > self._max:
                raise FrameError(
                    f"frame of at least {value} bytes exceeds the limit of {self._max} bytes"
                )
        if end - pos >= MAX_VARINT_BYTES:
            raise FrameError(f"frame length varint longer than {MAX_VARINT_BYTES} bytes")
        return 0, -1
