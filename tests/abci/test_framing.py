"""Properties of the ABCI uvarint framing codec: round trips, independence from how the byte
stream is chunked, waiting on truncated input, and rejection of oversize or garbled lengths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from abci.framing import FrameDecoder, FrameError, encode_frame, encode_uvarint

payloads = st.lists(st.binary(max_size=300), max_size=20)


def _decode_all(decoder: FrameDecoder) -> list[bytes]:
    frames = []
    while (frame := decoder.next_frame()) is not None:
        frames.append(frame)
    return frames


def _reference_uvarint(data: bytes) -> tuple[int, int]:
    value = 0
    for i, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, i + 1
    raise AssertionError("unterminated")


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_uvarint_round_trips_every_uint64(value: int) -> None:
    encoded = encode_uvarint(value)
    assert _reference_uvarint(encoded) == (value, len(encoded))
    assert len(encoded) == max(1, (value.bit_length() + 6) // 7)


def test_uvarint_is_unsigned_not_zigzag() -> None:
    assert encode_uvarint(1) == b"\x01"
    assert encode_uvarint(300) == b"\xac\x02"
    with pytest.raises(ValueError):
        encode_uvarint(-1)


@given(payloads)
def test_frames_round_trip(messages: list[bytes]) -> None:
    decoder = FrameDecoder()
    decoder.feed(b"".join(encode_frame(m) for m in messages))
    assert _decode_all(decoder) == messages
    assert decoder.buffered == 0


@given(payloads, st.data())
def test_any_chunking_of_the_stream_yields_the_same_frames(
    messages: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(encode_frame(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    decoder = FrameDecoder()
    frames: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        decoder.feed(stream[start:cut])
        frames.extend(_decode_all(decoder))
        start = cut
    assert frames == messages
    assert decoder.buffered == 0


@given(st.binary(min_size=1, max_size=1000), st.data())
def test_truncated_frame_waits_for_more_bytes(message: bytes, data: st.DataObject) -> None:
    frame = encode_frame(message)
    cut = data.draw(st.integers(0, len(frame) - 1))
    decoder = FrameDecoder()
    decoder.feed(frame[:cut])
    assert decoder.next_frame() is None
    assert decoder.buffered == cut
    decoder.feed(frame[cut:])
    assert decoder.next_frame() == message
    assert decoder.next_frame() is None


@given(st.integers(min_value=101, max_value=2**64 - 1), st.integers(min_value=1, max_value=10))
def test_oversize_declared_length_is_rejected_before_the_payload(length: int, sent: int) -> None:
    header = encode_uvarint(length)
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.feed(header[:sent])
    if sent >= len(header) or _partial_exceeds(header[:sent], 100):
        with pytest.raises(FrameError):
            decoder.next_frame()
    else:
        assert decoder.next_frame() is None


def _partial_exceeds(prefix: bytes, limit: int) -> bool:
    value = 0
    for i, byte in enumerate(prefix):
        value |= (byte & 0x7F) << (7 * i)
    return value > limit


def test_frame_exactly_at_the_limit_is_accepted() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.feed(encode_frame(b"x" * 100))
    assert decoder.next_frame() == b"x" * 100


def test_varint_longer_than_ten_bytes_is_garbage() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x80" * 10 + b"\x01")
    with pytest.raises(FrameError):
        decoder.next_frame()


def test_varint_overflowing_64_bits_is_garbage() -> None:
    decoder = FrameDecoder(max_frame_bytes=2**64)
    decoder.feed(b"\xff" * 9 + b"\x7f")
    with pytest.raises(FrameError):
        decoder.next_frame()


def test_empty_frame_is_a_valid_frame() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x00")
    assert _decode_all(decoder) == [b"", b""]
