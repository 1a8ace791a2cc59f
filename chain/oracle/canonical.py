"""The ed25519 check of vote-extension signatures (sign bytes: chain/canonical.py).

A validator signs `protobuf-length-delimited(CanonicalVoteExtension)`: an unsigned varint of
the message length, then the proto3 message `{bytes extension = 1; sfixed64 height = 2;
sfixed64 round = 3; string chain_id = 4}` (tendermint/types/canonical.proto). Proto3 leaves
out zero values, so an empty extension and round 0 contribute no bytes at all.
"""

from __future__ import annotations

from chain.canonical import vote_extension_sign_bytes
from chain.ed25519 import verify_signature


def is_valid_extension_signature(
    pub_key: bytes, signature: bytes, extension: bytes, height: int, round_: int, chain_id: str
) -> bool:
    """True if `signature` is `pub_key`'s signature of the extension's sign bytes by the rule
    CometBFT itself applied when it accepted the vote (ZIP-215): ProcessProposal must neither
    accept what CometBFT would refuse nor refuse what it accepted."""
    return verify_signature(
        pub_key, signature, vote_extension_sign_bytes(extension, height, round_, chain_id))
