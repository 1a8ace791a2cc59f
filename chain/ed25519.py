"""Public-key checks that ed25519 verification in `cryptography` does not make.

OpenSSL's ed25519 accepts public keys of small order (for example 32 zero
bytes), for which a trivial signature verifies over any message. An account
whose address came from such a key would be spendable by anyone, so these keys
are refused outright. This module decodes the point (RFC 8032 §5.1.3) and checks
that multiplying it by the cofactor 8 does not give the identity.
"""

from __future__ import annotations

_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _decode_point(encoded: bytes) -> tuple[int, int] | None:
    """Affine (x, y) of a 32-byte encoding, or None if it is not a canonical curve point."""
    value = int.from_bytes(encoded, "little")
    sign = value >> 255
    y = value & ((1 << 255) - 1)
    if y >= _P:
        return None
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    if (v * x * x - u) % _P != 0:
        x = (x * _SQRT_M1) % _P
    if (v * x * x - u) % _P != 0:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y


def _double(point: tuple[int, int]) -> tuple[int, int]:
    # Affine twisted Edwards addition with a = -1, specialised to P + P; the
    # formula is complete, so no case analysis is needed.
    x, y = point
    t = _D * x * x * y * y % _P
    x3 = 2 * x * y * pow(1 + t, _P - 2, _P) % _P
    y3 = (y * y + x * x) * pow(1 - t, _P - 2, _P) % _P
    return x3, y3


def is_valid_public_key(encoded: bytes) -> bool:
    """True iff `encoded` is a canonical 32-byte point outside the small-order subgroup."""
    if len(encoded) != 32:
        return False
    point = _decode_point(encoded)
    if point is None:
        return False
    for _ in range(3):
        point = _double(point)
    return point != (0, 1)
