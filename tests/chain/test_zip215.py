"""Signature verification follows ZIP-215 exactly, CometBFT's rule, including on the inputs a
strict (RFC 8032 / libsodium) verifier refuses.

A Byzantine validator can sign with a "mixed-order" R (a normal nonce point plus a point of
order 8). CometBFT (curve25519-voi, ZIP-215) accepts such a signature because its check is
cofactored. If ProcessProposal refused what CometBFT accepted, that validator could make every
honest proposal invalid; and transaction signatures are verified in batches, which agree with
one-by-one checks only under a cofactored rule. The native verifier is compared with the
independent model in `zip215_reference`.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chain.canonical import vote_extension_sign_bytes
from chain.ed25519 import _P, verify_signature
from chain.oracle.canonical import is_valid_extension_signature
from tests.chain.zip215_reference import (
    IDENTITY,
    L,
    encode,
    order_eight_point,
    secret,
    sign,
    verify_zip215,
)

TORSION = order_eight_point()


def _agree(public: bytes, signature: bytes, message: bytes) -> bool:
    """The native verdict, asserted equal to the reference's."""
    verdict = verify_signature(public, signature, message)
    assert verdict == verify_zip215(public, signature, message)
    return verdict


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=100))
def test_every_rfc8032_signature_is_accepted(seed: bytes, message: bytes) -> None:
    signature = sign(seed, message)
    public = secret(seed)[2]
    assert _agree(public, signature, message)
    assert not _agree(public, signature, message + b"x")


def test_mixed_order_r_is_accepted_like_cometbft() -> None:
    seed, message = bytes(range(32)), b"extension"
    public = secret(seed)[2]
    signature = sign(seed, message, TORSION)
    assert _agree(public, signature, message)
    assert not _agree(public, signature, message + b"!")


def test_non_canonical_s_is_refused() -> None:
    seed, message = bytes([3]) * 32, b"m"
    public = secret(seed)[2]
    signature = sign(seed, message)
    s = int.from_bytes(signature[32:], "little") + L
    assert not _agree(public, signature[:32] + s.to_bytes(32, "little"), message)


def test_non_canonical_and_small_order_encodings_of_a_and_r_are_accepted() -> None:
    """With A and R the neutral element and S = 0 the cofactored equation holds for any
    message, whether the encodings are canonical (y = 1) or not (y = p + 1): ZIP-215 accepts
    all four. (Transaction keys of small order are refused before this: `is_valid_public_key`.)"""
    canonical = encode(IDENTITY)
    non_canonical = (_P + 1).to_bytes(32, "little")
    for a in (canonical, non_canonical):
        for r in (canonical, non_canonical):
            assert _agree(a, r + bytes(32), b"any message")
    assert _agree(bytes(32), bytes(64), b"order-4 key, order-4 R")


def test_encodings_of_no_curve_point_are_refused() -> None:
    public = secret(bytes([5]) * 32)[2]
    no_point = (2).to_bytes(32, "little")  # no x satisfies the curve equation for y = 2
    signature = sign(bytes([5]) * 32, b"m")
    assert not _agree(no_point, signature, b"m")
    assert not _agree(public, no_point + signature[32:], b"m")


def test_a_byzantine_validators_mixed_order_extension_signature_is_accepted() -> None:
    seed = bytes([7]) * 32
    public = secret(seed)[2]
    sign_bytes = vote_extension_sign_bytes(b"\x01prices", 42, 0, "optio-localnet")
    signature = sign(seed, sign_bytes, TORSION)
    assert is_valid_extension_signature(public, signature, b"\x01prices", 42, 0,
                                        "optio-localnet")
    assert not is_valid_extension_signature(public, signature, b"\x01prices", 43, 0,
                                            "optio-localnet")
