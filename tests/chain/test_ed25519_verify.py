"""ed25519 verification (libsodium) agrees with RFC 8032 signing and refuses malleated input;
the batch verifier (compiled, GIL-free) gives exactly the one-by-one verdicts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from chain.ed25519 import verify_signature
from chain.ed25519_batch import SignatureBatch

REPO_ROOT = Path(__file__).resolve().parents[2]

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


def _cases() -> list[tuple[bytes, bytes, bytes]]:
    """Valid signatures and every kind of refusal above, mixed."""
    cases = []
    for i in range(6):
        key, public = _key(bytes([i]) * 32)
        message = bytes(range(i * 7))
        signature = key.sign(message)
        s = int.from_bytes(signature[32:], "little") + ORDER
        cases += [
            (public, signature, message),
            (public, signature, message + b"!"),
            (public, signature[:32] + s.to_bytes(32, "little"), message),
            (public[:31], signature, message),
            (public, signature[:63], message),
            (bytes(32), bytes(64), message),
        ]
    return cases


def verify_signatures(items: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
    batch = SignatureBatch(items)
    batch.verify()
    return batch.verdicts()


def test_batch_verification_gives_exactly_the_one_by_one_verdicts() -> None:
    cases = _cases()
    verdicts = verify_signatures(cases)
    assert verdicts == [verify_signature(*case) for case in cases]
    assert verdicts.count(True) == 6
    assert verify_signatures([]) == []
    assert verify_signatures(cases[3:5]) == [False, False]  # nothing well formed


def test_batch_verification_interpreted_gives_the_same_verdicts() -> None:
    """With NUMBA_DISABLE_JIT=1 the batch is verified one by one, with the same answers."""
    script = ("import sys; sys.path.insert(0, '.'); from tests.chain.test_ed25519_verify import "
              "_cases, verify_signatures; "
              "print(verify_signatures(_cases()))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=REPO_ROOT, env={**os.environ, "NUMBA_DISABLE_JIT": "1"})
    assert done.stdout.strip() == str(verify_signatures(_cases()))
