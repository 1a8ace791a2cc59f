"""Public-key checks that ed25519 verification in `cryptography` does not make.

OpenSSL's ed25519 accepts public keys of small order (for example 32 zero
bytes), for which a trivial signature verifies over any message. An account
whose address came from such a key would be spendable by anyone, so these keys
are refused outright. This module decodes the point (RFC 8032 §5.1.3) and checks
that multiplying it by the cofactor 8 does not give the identity.
"""

from __future__ import annotations

from functools import lru_cache

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

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


def _times_eight_is_identity(x: int, y: int) -> bool:
    """Whether [8](x, y) is the neutral element, doubling in projective coordinates.

    Projective doubling for a = -1 (Bernstein et al. 2008, "dbl-2008-bbjlp") needs
    no field inversion; the neutral element (0, 1) is any (0 : Z : Z).
    """
    px, py, pz = x, y, 1
    for _ in range(3):
        b = (px + py) * (px + py) % _P
        c = px * px % _P
        d = py * py % _P
        e = -c % _P
        f = (e + d) % _P
        j = (f - 2 * (pz * pz)) % _P
        px, py, pz = (b - c - d) * j % _P, f * (e - d) % _P, f * j % _P
    return px == 0 and py == pz


@lru_cache(maxsize=4096)
def is_valid_public_key(encoded: bytes) -> bool:
    """True iff `encoded` is a canonical 32-byte point outside the small-order subgroup.

    Cached: active traders sign many transactions with one key, and the answer
    is a pure function of the bytes.
    """
    if len(encoded) != 32:
        return False
    point = _decode_point(encoded)
    return point is not None and not _times_eight_is_identity(*point)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """RFC 8032 ed25519 verification with libsodium (PyNaCl).

    libsodium is used rather than `cryptography`'s OpenSSL binding because verification is
    the single largest cost of CheckTx: measured 40 µs against 70 µs per signature on the
    project's machine. It also refuses non-canonical signatures (S ≥ L) and small-order keys.
    Every node runs the same bundled libsodium, so acceptance is uniform across the network.
    """
    if len(signature) != 64 or len(public_key) != 32:
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except (BadSignatureError, ValueError):
        return False
    return True
