"""Proof verification: presence and absence proofs verify, every tampering fails."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from state.proof import EMPTY_HASH, PROOF_OP_TYPE, decode_proof, verify
from state.store import Store

keys = st.binary(min_size=1, max_size=12)
key_values = st.dictionaries(keys, st.binary(max_size=16), max_size=40)


def _committed(tmp: Path, items: dict[bytes, bytes]) -> Store:
    store = Store(str(tmp))
    ws = store.working()
    for key, value in sorted(items.items()):
        ws.set(key, value)
    store.commit(ws, 1)
    return store


def test_proof_op_type_is_the_documented_constant() -> None:
    assert PROOF_OP_TYPE == "optio:smt"


@settings(max_examples=40, deadline=None)
@given(items=key_values, probes=st.lists(keys, max_size=10))
def test_proofs_verify_for_present_and_absent_keys(tmp_path_factory, items, probes) -> None:
    store = _committed(tmp_path_factory.mktemp("db"), items)
    try:
        root = store.last_app_hash
        for key in sorted(items) + probes:
            value, proof, height = store.prove(key)
            assert height == 1
            assert value == items.get(key)
            assert verify(root, key, value, proof)
    finally:
        store.close()


@settings(max_examples=30, deadline=None)
@given(items=st.dictionaries(keys, st.binary(max_size=16), min_size=1, max_size=30), data=st.data())
def test_tampered_proof_value_or_root_fails(tmp_path_factory, items, data) -> None:
    store = _committed(tmp_path_factory.mktemp("db"), items)
    try:
        root = store.last_app_hash
        key = data.draw(st.sampled_from(sorted(items)) | keys)
        value, proof, _ = store.prove(key)
        assert verify(root, key, value, proof)
        # Any single-bit flip in the proof bytes breaks it.
        bit = data.draw(st.integers(0, len(proof) * 8 - 1))
        flipped = bytearray(proof)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not verify(root, key, value, bytes(flipped))
        # A different claimed value, or claiming absence of a present key (and vice versa).
        other_value = data.draw(st.binary(max_size=16).filter(lambda v: v != value))
        assert not verify(root, key, other_value, proof)
        if value is not None:
            assert not verify(root, key, None, proof)
        # A different root.
        root_bit = data.draw(st.integers(0, 255))
        bad_root = bytearray(root)
        bad_root[root_bit // 8] ^= 1 << (root_bit % 8)
        assert not verify(bytes(bad_root), key, value, proof)
        # Truncated or extended proofs.
        assert not verify(root, key, value, proof[:-1])
        assert not verify(root, key, value, proof + b"\x00")
    finally:
        store.close()


def test_absence_proof_does_not_prove_another_absent_key(tmp_path: Path) -> None:
    store = _committed(tmp_path / "db", {b"alice": b"1", b"bob": b"2", b"carol": b"3"})
    try:
        _, proof, _ = store.prove(b"mallory")
        assert verify(store.last_app_hash, b"mallory", None, proof)
        for present in (b"alice", b"bob", b"carol"):
            assert not verify(store.last_app_hash, present, None, proof)
    finally:
        store.close()


def test_empty_state_proves_absence_with_a_minimal_proof(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "db"))
    try:
        value, proof, height = store.prove(b"anything")
        assert (value, height, store.last_app_hash) == (None, 0, EMPTY_HASH)
        assert proof == b"\x00\x00\x00"
        assert verify(EMPTY_HASH, b"anything", None, proof)
        assert not verify(EMPTY_HASH, b"anything", b"", proof)
    finally:
        store.close()


def test_malformed_proofs_are_rejected_not_raised() -> None:
    for junk in (b"", b"\x00", b"\x03\x00\x00", b"\x00\x01\x01", b"\x00\x01\x00" + bytes(32), b"\xff" * 70):
        assert decode_proof(junk) is None or not verify(EMPTY_HASH, b"k", None, junk)
    assert not verify(b"short", b"k", None, b"\x00\x00\x00")


def test_non_canonical_sibling_encoding_is_rejected() -> None:
    # Depth 1 with the bitmap claiming a non-empty sibling that is in fact all zeros.
    assert decode_proof(b"\x00\x00\x01\x80" + bytes(32)) is None
    # Unused bitmap bits must be zero.
    assert decode_proof(b"\x00\x00\x01\x01") is None


def test_every_key_of_a_larger_state_has_a_valid_proof(tmp_path: Path) -> None:
    items = {b"acc/" + i.to_bytes(4, "big"): i.to_bytes(8, "big") for i in range(3_000)}
    store = _committed(tmp_path / "db", items)
    try:
        root = store.last_app_hash
        for key, value in items.items():
            got, proof, _ = store.prove(key)
            assert got == value and verify(root, key, value, proof)
        for i in range(3_000, 3_300):
            absent = b"acc/" + i.to_bytes(4, "big")
            got, proof, _ = store.prove(absent)
            assert got is None and verify(root, absent, None, proof)
            assert not verify(root, absent, b"", proof)
    finally:
        store.close()
