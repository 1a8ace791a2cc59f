"""Philox4x32-10 counter-based random numbers in pure integer arithmetic (bit-exact everywhere).

Philox (Salmon, Moraes, Dror, Shaw, SC'11) maps a 128-bit counter and a 64-bit key to 128 random
bits with ten rounds of 32x32->64 multiplications, xors and a Weyl key schedule. Being a pure
function of (counter, key), any sample of a Monte Carlo run can be recomputed independently, which
is what a verifier of an off-chain mark needs.

All words are held in uint64 and masked to 32 bits: Numba types a uint64 mixed with a signed
literal as float64, so every constant here is an explicit ``np.uint64``. The same source runs
interpreted (``NUMBA_DISABLE_JIT=1``) on NumPy uint64 scalars with identical results.

A 32-byte seed (later: the VDF beacon output) is turned into a key and a stream prefix by
``derive_key`` with a domain-separated SHA-256, so that every seed byte matters.
"""

import hashlib

import numpy as np
from numba import njit

from pricing.config import JIT

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_ROUNDS = 10
# 2**-32 and a half-step offset: (x + 0.5) * 2**-32 is exact in binary64 and lies strictly in (0, 1).
_INV_2_32 = 2.3283064365386963e-10

SEED_BYTES = 32
_DOMAIN = b"optio/philox4x32-10/v1"


@njit(**JIT)
def philox4x32_10(
    c0: np.uint64, c1: np.uint64, c2: np.uint64, c3: np.uint64, k0: np.uint64, k1: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    """Ten Philox rounds on counter (c0..c3) with key (k0, k1); every word is a uint64 < 2**32."""
    x0 = c0
    x1 = c1
    x2 = c2
    x3 = c3
    for _ in range(_ROUNDS):
        p0 = _M0 * x0
        p1 = _M1 * x2
        hi0 = p0 >> _SHIFT32
        lo0 = p0 & _MASK32
        hi1 = p1 >> _SHIFT32
        lo1 = p1 & _MASK32
        x0 = hi1 ^ x1 ^ k0
        x1 = lo1
        x2 = hi0 ^ x3 ^ k1
        x3 = lo0
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return x0, x1, x2, x3


@njit(**JIT)
def _philox_blocks(counters: np.ndarray, keys: np.ndarray, out: np.ndarray) -> None:
    for i in range(counters.shape[0]):
        y0, y1, y2, y3 = philox4x32_10(
            counters[i, 0], counters[i, 1], counters[i, 2], counters[i, 3], keys[i, 0], keys[i, 1]
        )
        out[i, 0] = y0
        out[i, 1] = y1
        out[i, 2] = y2
        out[i, 3] = y3


@njit(**JIT)
def uniform_from_word(x: np.uint64) -> float:
    """Map a 32-bit word to the open interval (0, 1): (x + 1/2) / 2**32, exact in binary64."""
    return (float(x) + 0.5) * _INV_2_32


def philox_blocks(counters: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Philox4x32-10 of many (counter, key) pairs: counters (n, 4), keys (n, 2) -> words (n, 4).

    Inputs are any integer arrays with values in [0, 2**32); the result is uint64 holding 32-bit
    words, in the Random123 word order.
    """
    counters = np.asarray(counters)
    keys = np.asarray(keys)
    if counters.ndim != 2 or counters.shape[1] != 4:
        raise ValueError("counters must have shape (n, 4)")
    if keys.shape != (counters.shape[0], 2):
        raise ValueError("keys must have shape (n, 2) matching counters")
    for arr in (counters, keys):
        if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
            raise ValueError("words must lie in [0, 2**32)")
    c = np.ascontiguousarray(counters, dtype=np.uint64)
    k = np.ascontiguousarray(keys, dtype=np.uint64)
    out = np.empty((c.shape[0], 4), dtype=np.uint64)
    _philox_blocks(c, k, out)
    return out


def derive_key(seed: bytes) -> tuple[int, int, int, int]:
    """Key (k0, k1) and stream prefix (c2, c3) from a 32-byte seed.

    SHA-256 of a domain tag and the seed, read as little-endian 32-bit words 0..3. Hashing rather
    than slicing spreads all 256 seed bits over the 128 bits Philox can take as key and prefix.
    """
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
        raise ValueError(f"seed must be exactly {SEED_BYTES} bytes")
    digest = hashlib.sha256(_DOMAIN + bytes(seed)).digest()
    w = [int.from_bytes(digest[4 * i : 4 * i + 4], "little") for i in range(4)]
    return w[0], w[1], w[2], w[3]
