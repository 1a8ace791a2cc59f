"""CometBFT's vote-extension sign bytes and their ed25519 check.

A validator signs `protobuf-length-delimited(CanonicalVoteExtension)`: an unsigned varint of
the message length, then the proto3 message `{bytes extension = 1; sfixed64 height = 2;
sfixed64 round = 3; string chain_id = 4}` (tendermint/types/canonical.proto). Proto3 leaves
out zero values, so an empty extension and round 0 contribute no bytes at all.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chain.ed25519 import is_valid_public_key

_TAG_EXTENSION = 0x0A  # field 1, length-delimited
_TAG_HEIGHT = 0x11  # field 2, 64-bit
_TAG_ROUND = 0x19  # field 3, 64-bit
_TAG_CHAIN_ID = 0x22  # field 4, length-delimited


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def vote_extension_sign_bytes(extension: bytes, height: int, round_: int, chain_id: str) -> bytes:
    """The exact bytes CometBFT v0.38 signs for a vote extension."""
    body = bytearray()
    if extension:
        body += bytes((_TAG_EXTENSION,)) + _uvarint(len(extension)) + extension
    if height:
        body += bytes((_TAG_HEIGHT,)) + struct.pack("<q", height)
    if round_:
        body += bytes((_TAG_ROUND,)) + struct.pack("<q", round_)
    chain = chain_id.encode()
    if chain:
        body += bytes((_TAG_CHAIN_ID,)) + _uvarint(len(chain)) + chain
    return _uvarint(len(body)) + bytes(body)


def is_valid_extension_signature(
    pub_key: bytes, signature: bytes, extension: bytes, height: int, round_: int, chain_id: str
) -> bool:
    """True if `signature` is `pub_key`'s ed25519 signature of the extension's sign bytes."""
    if len(signature) != 64 or not is_valid_public_key(pub_key):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(pub_key).verify(
            signature, vote_extension_sign_bytes(extension, height, round_, chain_id)
        )
    except InvalidSignature:
        return False
    return True
