"""CometBFT's vote-extension sign bytes and their ed25519 check.

A validator signs `protobuf-length-delimited(CanonicalVoteExtension)`: an unsigned varint of
the message length, then the proto3 message `{bytes extension = 1; sfixed64 height = 2;
sfixed64 round = 3; string chain_id = 4}` (tendermint/types/canonical.proto). Proto3 leaves
out zero values, so an empty extension and round 0 contribute no bytes at all.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chain.canonical import vote_extension_sign_bytes
from chain.ed25519 import is_valid_public_key

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
