"""ed25519 for every signature the chain checks: one rule, ZIP-215, and a key check.

**The rule.** Signatures are verified by the ZIP-215 rules, the rules CometBFT v0.38 applies to
every signature it checks (curve25519-voi's `VerifyOptionsZIP_215`): S must be below the group
order; A and R may be any encodings of curve points; the equation is cofactored,
[8][S]B = [8]R + [8][k]A with k = SHA-512(R ‖ A ‖ M) over the bytes as given. Every RFC 8032
signature passes it. Two things follow from using it everywhere:
- vote extensions and commit signatures that CometBFT accepted are accepted here too (a
  stricter check would let one Byzantine validator, signing with a mixed-order R, make every
  honest proposal invalid);
- a batch check agrees exactly with one-by-one checks (the cofactored equation has no
  torsion component left for random coefficients to catch or miss), so nodes verifying
  transactions in batches of any make-up reach the same verdicts (chain/ed25519_batch.py).
The arithmetic is in the `optio_native` extension (chain/native/src/ed25519.rs, the
`ed25519-zebra` crate), built by the set-up script.

**The key check.** Under these rules a public key of small order (for example 32 zero bytes)
verifies a trivial signature over any message, so an account whose address came from such a
key would be spendable by anyone: transaction keys must pass `is_valid_public_key`, which
decodes the point strictly (RFC 8032 §5.1.3) and checks that multiplying it by the cofactor 8
does not give the identity.
"""

from __future__ import annotations

from functools import lru_cache

try:
    import optio_native
except ImportError as exc:  # pragma: no cover - a set-up error, not a code path
    raise ImportError("the optio_native extension is not installed: run ./localnet/setup.sh "
                      "(it builds chain/native with cargo)") from exc

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _decode_point(encoded: bytes) -> tuple[int, int] | None:
    """Affine (x, y) of a canonical 32-byte encoding, or None if it is not a curve point or
    not canonical (y ≥ p, or x = 0 with the sign bit set)."""
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
    if len(encoded) != PUBLIC_KEY_BYTES:
        return False
    point = _decode_point(encoded)
    return point is not None and not _times_eight_is_identity(*point)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """ed25519 verification by the ZIP-215 rules (module docstring); wrong lengths are False.
    Releases the GIL while it verifies (about 30 µs)."""
    return optio_native.verify(public_key, signature, message)
