"""ed25519 verification agrees with RFC 8032 signing and refuses malleated input; the batch
verifier (native, GIL-free) gives exactly the one-by-one verdicts, whatever the batch holds."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from chain.ed25519 import verify_signature
from chain.ed25519_batch import SignatureBatch
from tests.chain.zip215_reference import L, order_eight_point, secret, sign


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


def test_wrong_lengths_are_refused() -> None:
    key, public = _key(bytes(32))
    signature = key.sign(b"m")
    assert not verify_signature(public[:31], signature, b"m")
    assert not verify_signature(public, signature[:63], b"m")
    assert not verify_signature(public + b"\0", signature, b"m")


def _cases() -> list[tuple[bytes, bytes, bytes]]:
    """Valid signatures, every kind of refusal above, and what only ZIP-215 accepts (a
    mixed-order R; a small-order key with a trivial signature), mixed."""
    torsion = order_eight_point()
    cases = []
    for i in range(6):
        seed = bytes([i + 100]) * 32
        cases.append((secret(seed)[2], sign(seed, b"mixed", torsion), b"mixed"))
        key, public = _key(bytes([i]) * 32)
        message = bytes(range(i * 7))
        signature = key.sign(message)
        s = int.from_bytes(signature[32:], "little") + L
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
    assert verdicts.count(True) == 6 + 6 + 6  # valid, mixed-order R, trivial small-order
    assert verify_signatures([]) == []
    assert verify_signatures(cases[4:6]) == [False, False]  # nothing well formed


@pytest.mark.parametrize("bad", [0, 1, 137, 255])
def test_one_bad_signature_among_many_is_found(bad: int) -> None:
    """A batch of 256 (the size CheckTx hands over) with one forged signature: the batch check
    fails, and the one-by-one pass convicts exactly that one."""
    items = []
    for i in range(256):
        key, public = _key(bytes([i % 16]) * 32)  # repeated keys, as from active traders
        message = b"tx %d" % i
        items.append((public, key.sign(message if i != bad else b"other"), message))
    verdicts = verify_signatures(items)
    assert [i for i, ok in enumerate(verdicts) if not ok] == [bad]


def test_batches_verify_in_parallel_threads() -> None:
    """The extension releases the GIL: threads verifying at once give the same verdicts."""
    cases = _cases()
    expected = verify_signatures(cases)
    results: list[list[bool]] = []
    threads = [threading.Thread(target=lambda: results.append(verify_signatures(cases)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


def test_verdicts_before_verify_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        SignatureBatch(_cases()).verdicts()
