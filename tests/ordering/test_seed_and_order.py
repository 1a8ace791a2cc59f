"""The seed and the order are pure functions of the tx set and the previous app hash."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from chain import ordering
from tests.ordering.conftest import BITS, CHAIN_ID, HEIGHT, PREV_APP_HASH, T, honest_block, user_txs


def _naive_rfc6962_root(items: list[bytes]) -> bytes:
    """Slow reference: RFC 6962 §2.1 Merkle Tree Hash, written from the spec."""
    if not items:
        return hashlib.sha256(b"").digest()
    if len(items) == 1:
        return hashlib.sha256(b"\x00" + items[0]).digest()
    k = 1
    while k * 2 < len(items):
        k *= 2
    return hashlib.sha256(
        b"\x01" + _naive_rfc6962_root(items[:k]) + _naive_rfc6962_root(items[k:])).digest()


hashes = st.lists(st.binary(min_size=32, max_size=32), max_size=40)


@given(hashes, st.randoms())
def test_tx_set_root_is_the_rfc6962_root_of_the_sorted_hashes(items: list[bytes], rnd) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert ordering.tx_set_root(shuffled) == _naive_rfc6962_root(sorted(items))


def test_empty_set_root_is_the_hash_of_nothing() -> None:
    assert ordering.tx_set_root([]) == hashlib.sha256(b"").digest()


@given(st.lists(st.binary(max_size=64), max_size=30), st.randoms())
def test_seed_depends_on_the_tx_set_not_its_order(txs: list[bytes], rnd) -> None:
    shuffled = list(txs)
    rnd.shuffle(shuffled)
    assert ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, txs) == \
        ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, shuffled)


def test_seed_binds_chain_height_prev_app_hash_and_tx_set() -> None:
    txs = user_txs(3)
    base = ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, txs)
    variants = [
        ordering.compute_block_seed(CHAIN_ID + "x", HEIGHT, PREV_APP_HASH, txs),
        ordering.compute_block_seed(CHAIN_ID, HEIGHT + 1, PREV_APP_HASH, txs),
        ordering.compute_block_seed(CHAIN_ID, HEIGHT, bytes(32), txs),
        ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, txs[:2]),
        ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, txs + txs[:1]),
    ]
    assert len({base, *variants}) == 1 + len(variants)
    assert len(base) == 32


@given(st.binary(min_size=100, max_size=100), st.lists(st.binary(max_size=40), max_size=50),
       st.randoms())
def test_order_is_a_permutation_that_ignores_input_order(y: bytes, txs: list[bytes], rnd) -> None:
    shuffled = list(txs)
    rnd.shuffle(shuffled)
    ordered = ordering.order_txs(y, txs)
    assert ordered == ordering.order_txs(y, shuffled)
    assert sorted(ordered) == sorted(txs)


def test_order_sorts_by_hash_of_y_and_tx_hash() -> None:
    y = bytes(range(100))
    txs = user_txs(10)
    expected = sorted(txs, key=lambda t: hashlib.sha256(y + hashlib.sha256(t).digest()).digest())
    assert ordering.order_txs(y, txs) == expected


@settings(max_examples=10, deadline=None)
@given(st.randoms())
def test_block_order_is_a_pure_function_of_the_tx_set(rnd) -> None:
    txs = user_txs(25)
    shuffled = list(txs)
    rnd.shuffle(shuffled)
    assert honest_block(shuffled) == honest_block(txs)


def test_another_previous_app_hash_gives_another_order() -> None:
    txs = user_txs(25)
    first = honest_block(txs)
    second = honest_block(txs, prev_app_hash=hashlib.sha256(b"other").digest())
    # 25! orders: equal user-tx orders would be a 1-in-10^25 accident.
    assert first[1:] != second[1:]
    assert first[0] != second[0]


def test_vdf_output_is_deterministic() -> None:
    seed = ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, user_txs(2))
    assert ordering.prove(seed, T, BITS) == ordering.prove(seed, T, BITS)
