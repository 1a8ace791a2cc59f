"""ZIP-215 verification agrees with CometBFT on the signatures a strict verifier refuses.

A Byzantine validator can sign with a "mixed-order" R (a normal nonce point plus a point of
order 8). CometBFT (curve25519-voi, ZIP-215) accepts such a signature because its check is
cofactored; libsodium and OpenSSL refuse it. If ProcessProposal refused what CometBFT accepted,
that validator could make every honest proposal invalid, so the oracle uses ZIP-215 exactly.
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from chain.canonical import vote_extension_sign_bytes
from chain.ed25519 import (
    _L,
    _P,
    _add,
    _base_point,
    _decode_point,
    _extended,
    _multiply,
    verify_signature,
    verify_signature_as_cometbft,
    verify_zip215,
)
from chain.oracle.canonical import is_valid_extension_signature


def _encode(point: tuple[int, int, int, int]) -> bytes:
    x, y, z, _ = point
    inverse = pow(z, _P - 2, _P)
    x, y = x * inverse % _P, y * inverse % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _secret(seed: bytes) -> tuple[int, bytes, bytes]:
    """RFC 8032 key expansion: scalar a, nonce prefix, public key A."""
    digest = hashlib.sha512(seed).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, digest[32:], _encode(_multiply(a, _base_point()))


def _sign(seed: bytes, message: bytes, torsion: tuple[int, int, int, int] | None = None) -> bytes:
    """An RFC 8032 signature, or with R shifted by a small-order point (mixed-order R)."""
    a, prefix, public = _secret(seed)
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _L
    big_r = _multiply(r, _base_point())
    if torsion is not None:
        big_r = _add(big_r, torsion)
    r_bytes = _encode(big_r)
    k = int.from_bytes(hashlib.sha512(r_bytes + public + message).digest(), "little") % _L
    return r_bytes + ((r + k * a) % _L).to_bytes(32, "little")


def _is_identity(point: tuple[int, int, int, int]) -> bool:
    x, y, z, _ = point
    return x == 0 and y == z


def _order_eight_point() -> tuple[int, int, int, int]:
    """A point of order exactly 8, the torsion part of some curve point."""
    for y in range(2, 10_000):
        point = _decode_point(y.to_bytes(32, "little"))
        if point is None:
            continue
        p = _extended(point)
        # Multiply by L: the prime-order part vanishes, leaving the torsion component.
        torsion = _multiply(_L, p)
        if not _is_identity(_multiply(4, torsion)):  # [4]T != 0: T has order 8
            return torsion
    raise AssertionError("no order-8 point found")


TORSION = _order_eight_point()


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=100))
def test_zip215_accepts_every_rfc8032_signature(seed: bytes, message: bytes) -> None:
    signature = _sign(seed, message)
    public = _secret(seed)[2]
    assert verify_signature(public, signature, message)
    assert verify_zip215(public, signature, message)
    assert not verify_zip215(public, signature, message + b"x")


def test_mixed_order_signature_is_accepted_like_cometbft_but_refused_by_strict_rules() -> None:
    seed, message = bytes(range(32)), b"extension"
    public = _secret(seed)[2]
    signature = _sign(seed, message, TORSION)
    assert not verify_signature(public, signature, message)  # libsodium: cofactorless
    assert verify_zip215(public, signature, message)  # CometBFT: cofactored
    assert verify_signature_as_cometbft(public, signature, message)
    assert not verify_signature_as_cometbft(public, signature, message + b"!")


def test_a_byzantine_validators_mixed_order_extension_signature_is_accepted() -> None:
    seed = bytes([7]) * 32
    public = _secret(seed)[2]
    sign_bytes = vote_extension_sign_bytes(b"\x01prices", 42, 0, "optio-localnet")
    signature = _sign(seed, sign_bytes, TORSION)
    assert is_valid_extension_signature(public, signature, b"\x01prices", 42, 0,
                                        "optio-localnet")
    assert not is_valid_extension_signature(public, signature, b"\x01prices", 43, 0,
                                            "optio-localnet")


def test_zip215_refuses_non_canonical_s() -> None:
    seed, message = bytes([3]) * 32, b"m"
    public = _secret(seed)[2]
    signature = _sign(seed, message)
    s = int.from_bytes(signature[32:], "little") + _L
    assert not verify_zip215(public, signature[:32] + s.to_bytes(32, "little"), message)
