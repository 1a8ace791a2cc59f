"""CometBFT's byte-exact encodings of what it hashes and signs, written once for every user:
the light client (header hash, commit signatures), the oracle (vote-extension sign bytes), the
VDF ordering (tx-set Merkle root) and the double-sign drill (prevote sign bytes). Also the one
rule for decoding what arrives in a block (`parse_canonical`): user and injected txs alike
must be exactly the canonical encoding of what they parse to.

Protobuf is encoded by hand here because the bytes must match CometBFT's exactly, field by
field: proto3 leaves zero values out, gogoproto non-nullable submessages are always written
(`always=True`), int64 is two's complement in a varint, and sfixed64 is 8 bytes little-endian.
Facts from CometBFT v0.38's `tendermint/types/{types,canonical}.proto` and `crypto/merkle`.
"""

from __future__ import annotations

import calendar
import hashlib
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from abci.framing import encode_uvarint as uvarint

_MASK64 = 0xFFFFFFFFFFFFFFFF
_M = TypeVar("_M", bound=Message)


class NotProtobuf(ValueError):
    """The bytes do not parse as the message (the text is protobuf's reason)."""


class NotCanonical(ValueError):
    """The bytes parse, but are not the message's one canonical encoding."""


def parse_canonical(cls: type[_M], raw: bytes) -> _M:
    """`raw` parsed as `cls`, which must be exactly its deterministic encoding (no unknown
    fields, field order, no redundant bytes), so that every node agrees on what a tx's bytes
    mean and one message has one set of bytes. `NotProtobuf` or `NotCanonical` otherwise."""
    message = cls()
    try:
        message.ParseFromString(raw)
    except DecodeError as exc:
        raise NotProtobuf(str(exc)) from None
    # Unknown fields survive parsing and re-encoding, so drop them before the comparison:
    # their presence then shows up as a length difference.
    message.DiscardUnknownFields()
    if message.SerializeToString(deterministic=True) != raw:
        raise NotCanonical()
    return message


def varint_field(number: int, value: int) -> bytes:
    """A varint field; proto3 leaves zero out. Negative int64 is two's complement."""
    if value == 0:
        return b""
    return uvarint(number << 3) + uvarint(value & _MASK64)


def bytes_field(number: int, value: bytes, *, always: bool = False) -> bytes:
    """A length-delimited field; `always` for gogoproto non-nullable submessages."""
    if not value and not always:
        return b""
    return uvarint((number << 3) | 2) + uvarint(len(value)) + value


def sfixed64_field(number: int, value: int) -> bytes:
    if value == 0:
        return b""
    return uvarint((number << 3) | 1) + (value & _MASK64).to_bytes(8, "little")


def length_delimited(message: bytes) -> bytes:
    """What CometBFT signs: the message preceded by its length as an unsigned varint."""
    return uvarint(len(message)) + message


def parse_timestamp(text: str) -> tuple[int, int]:
    """RFC 3339 UTC time with up to nanosecond digits -> (unix seconds, nanos)."""
    if not text.endswith("Z"):
        raise ValueError(f"timestamp {text!r} is not UTC")
    main, _, fraction = text[:-1].partition(".")
    seconds = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return seconds, nanos


def timestamp_bytes(text: str) -> bytes:
    """`google.protobuf.Timestamp` of an RFC 3339 time."""
    seconds, nanos = parse_timestamp(text)
    return varint_field(1, seconds) + varint_field(2, nanos)


def block_id_bytes(raw: dict[str, Any]) -> bytes:
    """`BlockID` (same layout as `CanonicalBlockID`): hash, non-nullable part set header."""
    parts = raw.get("parts") or raw.get("part_set_header") or {}
    header = varint_field(1, int(parts.get("total", 0))) + bytes_field(
        2, bytes.fromhex(parts.get("hash", "")))
    return bytes_field(1, bytes.fromhex(raw.get("hash", ""))) + bytes_field(
        2, header, always=True)


def merkle_root(items: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle root as CometBFT computes it (`merkle.HashFromByteSlices`): empty →
    SHA-256(""), leaf → SHA-256(0x00 ‖ item), node → SHA-256(0x01 ‖ left ‖ right), the left
    subtree holding the largest power of two strictly below the number of items."""
    if not items:
        return hashlib.sha256(b"").digest()
    return _subtree_root(items, 0, len(items))


def _subtree_root(items: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return hashlib.sha256(b"\x00" + items[start]).digest()
    split = start + (1 << ((end - start - 1).bit_length() - 1))
    return hashlib.sha256(
        b"\x01" + _subtree_root(items, start, split) + _subtree_root(items, split, end)
    ).digest()


PREVOTE_TYPE = 1
PRECOMMIT_TYPE = 2


def vote_sign_bytes(vote_type: int, chain_id: str, height: int, round_: int,
                    block_id: dict[str, Any], timestamp: str) -> bytes:
    """Length-delimited `CanonicalVote{type, sfixed64 height, sfixed64 round, CanonicalBlockID,
    Timestamp (non-nullable), chain_id}`: what a validator signs for a prevote or precommit."""
    return length_delimited(
        varint_field(1, vote_type)
        + sfixed64_field(2, height)
        + sfixed64_field(3, round_)
        + bytes_field(4, block_id_bytes(block_id))
        + bytes_field(5, timestamp_bytes(timestamp), always=True)
        + bytes_field(6, chain_id.encode())
    )


def vote_extension_sign_bytes(extension: bytes, height: int, round_: int, chain_id: str) -> bytes:
    """Length-delimited `CanonicalVoteExtension{bytes extension = 1; sfixed64 height = 2;
    sfixed64 round = 3; string chain_id = 4}`: the bytes a validator signs for its extension."""
    return length_delimited(
        bytes_field(1, extension)
        + sfixed64_field(2, height)
        + sfixed64_field(3, round_)
        + bytes_field(4, chain_id.encode())
    )
