"""ed25519 verification (libsodium) agrees with RFC 8032 signing and refuses malleated input."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from chain.ed25519 import verify_signature

# Group order L of ed25519 (RFC 8032 §5.1).
ORDER = 2**252 + 27742317777372353535851937790883648493


def _key(seed: bytes) -> tuple[Ed25519PrivateKey, bytes]:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return key, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=512))
def test_signatures_made_by_the_wallet_library_verify(seed: bytes, message: bytes) -> None:
    key, public = _key(seed)
    assert verify_signature(public, key.sign(message), message)


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=1, max_size=64),
       st.integers(min_value=0, max_value=63))
def test_any_flipped_signature_byte_or_other_message_fails(
    seed: bytes, message: bytes, index: int
) -> None:
    key, public = _key(seed)
    signature = bytearray(key.sign(message))
    assert not verify_signature(public, key.sign(message), message + b"!")
    signature[index] ^= 0x01
    assert not verify_signature(public, bytes(signature), message)


def test_non_canonical_s_is_refused() -> None:
    key, public = _key(bytes(range(32)))
    signature = key.sign(b"pay bob")
    s = int.from_bytes(signature[32:], "little") + ORDER  # same point maths, malleated bytes
    assert not verify_signature(public, signature[:32] + s.to_bytes(32, "little"), b"pay bob")


def test_wrong_lengths_and_small_order_keys_are_refused() -> None:
    key, public = _key(bytes(32))
    signature = key.sign(b"m")
    assert not verify_signature(public[:31], signature, b"m")
    assert not verify_signature(public, signature[:63], b"m")
    assert not verify_signature(bytes(32), bytes(64), b"anything")
