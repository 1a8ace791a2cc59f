"""A slow, independent model of ZIP-215 ed25519 verification and of signing with crafted
points, in plain integer arithmetic: the oracle the native verifier (chain/ed25519.py) is
tested against.

ZIP-215 (the rule of CometBFT v0.38's curve25519-voi `VerifyOptionsZIP_215`): S must be below
the group order L; A and R may be non-canonical encodings (y reduced mod p, the sign bit
ignored when x = 0); the check is cofactored, [8]([S]B − R − [k]A) = 0, with
k = SHA-512(R ‖ A ‖ M) over the bytes as given.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from chain.ed25519 import _D, _P, _decode_point

L = 2**252 + 27742317777372353535851937790883648493
_BASE_Y = 4 * pow(5, _P - 2, _P) % _P
Point = tuple[int, int, int, int]
"""Extended coordinates (X, Y, Z, T)."""
IDENTITY: Point = (0, 1, 1, 0)


def decode_permissive(encoded: bytes) -> tuple[int, int] | None:
    """Affine (x, y) of any encoding ZIP-215 accepts, or None if no curve point has that y."""
    value = int.from_bytes(encoded, "little")
    sign, y = value >> 255, (value & ((1 << 255) - 1)) % _P
    point = _decode_point(y.to_bytes(32, "little"))  # canonical now, sign bit cleared
    if point is None:
        return None
    x, y = point
    return (x, y) if x == 0 or x & 1 == sign else (_P - x, y)


def extended(point: tuple[int, int]) -> Point:
    x, y = point
    return (x, y, 1, x * y % _P)


def add(p: Point, q: Point) -> Point:
    """Complete addition on ed25519 in extended coordinates (Hisil et al. 2008, a = -1)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * _D * t1 * t2 % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def multiply(scalar: int, point: Point) -> Point:
    result = IDENTITY
    while scalar:
        if scalar & 1:
            result = add(result, point)
        point = add(point, point)
        scalar >>= 1
    return result


def negate(p: Point) -> Point:
    x, y, z, t = p
    return (-x % _P, y, z, -t % _P)


def is_identity(point: Point) -> bool:
    x, y, z, _ = point
    return x == 0 and y == z


def encode(point: Point) -> bytes:
    x, y, z, _ = point
    inverse = pow(z, _P - 2, _P)
    x, y = x * inverse % _P, y * inverse % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


@lru_cache(maxsize=1)
def base_point() -> Point:
    return extended(decode_permissive(_BASE_Y.to_bytes(32, "little")))  # type: ignore[arg-type]


def verify_zip215(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if len(public_key) != 32 or len(signature) != 64:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    a_point = decode_permissive(public_key)
    r_point = decode_permissive(signature[:32])
    if a_point is None or r_point is None:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(),
                       "little") % L
    check = add(multiply(s, base_point()),
                negate(add(extended(r_point), multiply(k, extended(a_point)))))
    return is_identity(multiply(8, check))


def secret(seed: bytes) -> tuple[int, bytes, bytes]:
    """RFC 8032 key expansion: scalar a, nonce prefix, public key A."""
    digest = hashlib.sha512(seed).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, digest[32:], encode(multiply(a, base_point()))


def sign(seed: bytes, message: bytes, torsion: Point | None = None) -> bytes:
    """An RFC 8032 signature, or with R shifted by a small-order point (mixed-order R)."""
    a, prefix, public = secret(seed)
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % L
    big_r = multiply(r, base_point())
    if torsion is not None:
        big_r = add(big_r, torsion)
    r_bytes = encode(big_r)
    k = int.from_bytes(hashlib.sha512(r_bytes + public + message).digest(), "little") % L
    return r_bytes + ((r + k * a) % L).to_bytes(32, "little")


def order_eight_point() -> Point:
    """A point of order exactly 8, the torsion part of some curve point."""
    for y in range(2, 10_000):
        point = _decode_point(y.to_bytes(32, "little"))
        if point is None:
            continue
        # Multiply by L: the prime-order part vanishes, leaving the torsion component.
        torsion = multiply(L, extended(point))
        if not is_identity(multiply(4, torsion)):  # [4]T != 0: T has order 8
            return torsion
    raise AssertionError("no order-8 point found")
