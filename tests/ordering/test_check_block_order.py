"""ProcessProposal's ordering check: an honest block passes; every way a proposer can cheat
on the ordering tx or the order is a specific `InvalidBlockOrder`, never another exception."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain import ordering
from chain.proto import injected_pb2
from tests.ordering.conftest import (
    BITS, CHAIN_ID, HEIGHT, PREV_APP_HASH, T, check, honest_block, user_txs,
)


def _reject_kind(txs: list[bytes], **overrides: object) -> str:
    with pytest.raises(ordering.InvalidBlockOrder) as info:
        check(txs, **overrides)
    assert info.value.kind in ordering.REJECT_KINDS
    assert info.value.reason
    return info.value.kind


def _with_ordering(block: list[bytes], y: bytes, proof: bytes, iterations: int) -> list[bytes]:
    forged = ordering.encode_injected_tx(injected_pb2.InjectedTx(
        ordering=injected_pb2.OrderingTx(y=y, proof=proof, iterations=iterations)))
    return [forged, *block[1:]]


def test_honest_block_is_accepted(block_20: list[bytes]) -> None:
    order = check(block_20)
    assert list(order.user_txs) == block_20[1:]
    assert order.ordering_tx == block_20[0]
    assert order.seed == ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, block_20[1:])


def test_block_without_user_txs_is_accepted() -> None:
    block = honest_block([])
    assert len(block) == 1
    assert check(block).user_txs == ()


def test_reordered_user_txs_are_rejected(block_20: list[bytes]) -> None:
    swapped = [block_20[0], block_20[2], block_20[1], *block_20[3:]]
    assert _reject_kind(swapped) == "wrong_order"
    assert _reject_kind([block_20[0], *reversed(block_20[1:])]) == "wrong_order"


def test_dropped_ordering_tx_is_rejected(block_20: list[bytes]) -> None:
    assert _reject_kind(block_20[1:]) == "missing_ordering_tx"
    assert _reject_kind([]) == "missing_ordering_tx"


def test_ordering_tx_after_user_txs_is_rejected(block_20: list[bytes]) -> None:
    assert _reject_kind([*block_20[1:], block_20[0]]) == "misplaced_injected_tx"
    assert _reject_kind([block_20[1], block_20[0], *block_20[2:]]) == "misplaced_injected_tx"


def test_second_ordering_tx_is_rejected(block_20: list[bytes]) -> None:
    assert _reject_kind([block_20[0], *block_20]) in ("duplicate_ordering_tx",
                                                      "misplaced_injected_tx")


def test_forged_proof_is_rejected(block_20: list[bytes]) -> None:
    real = ordering.decode_ordering_tx(block_20[0])
    other = ordering.prove(hashlib.sha256(b"elsewhere").digest(), T, BITS)
    assert _reject_kind(_with_ordering(block_20, real.y, other.proof, T)) == "invalid_proof"
    assert _reject_kind(_with_ordering(block_20, real.y, bytes(100), T)) == "invalid_proof"


def test_wrong_y_is_rejected(block_20: list[bytes]) -> None:
    """A y (with its valid proof) from another seed, e.g. a set the proposer ground over."""
    other_seed = ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, block_20[2:])
    other = ordering.prove(other_seed, T, BITS)
    users = ordering.order_txs(other.y, block_20[1:])
    forged = _with_ordering(block_20, other.y, other.proof, T)[:1] + users
    assert _reject_kind(forged) == "invalid_proof"


def test_changed_iterations_are_rejected(block_20: list[bytes]) -> None:
    real = ordering.decode_ordering_tx(block_20[0])
    assert _reject_kind(_with_ordering(block_20, real.y, real.proof, T + 1)) == "wrong_iterations"
    assert _reject_kind(_with_ordering(block_20, real.y, real.proof, 0)) == "wrong_iterations"
    assert _reject_kind(block_20, iterations=T * 2) == "wrong_iterations"


def test_proof_for_a_smaller_t_is_rejected(block_20: list[bytes]) -> None:
    """A proposer that proves a cheaper T and claims the chain's T."""
    seed = ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, block_20[1:])
    cheap = ordering.prove(seed, T // 2, BITS)
    users = ordering.order_txs(cheap.y, block_20[1:])
    assert _reject_kind(_with_ordering(block_20, cheap.y, cheap.proof, T)[:1] + users) \
        == "invalid_proof"


def test_truncated_or_garbage_ordering_tx_is_rejected(block_20: list[bytes]) -> None:
    real = block_20[0]
    for bad in (real[:-1], real[: len(real) // 2], ordering.INJECTED_TX_MAGIC, b"\x00",
                b"\x00garbage", real + b"\x00"):
        assert _reject_kind([bad, *block_20[1:]]) == "malformed_injected_tx", bad[:20]
    decoded = ordering.decode_ordering_tx(real)
    short = _with_ordering(block_20, decoded.y, decoded.proof[:60], T)
    assert _reject_kind(short) == "malformed_injected_tx"


def test_dropped_or_added_user_tx_is_rejected(block_20: list[bytes]) -> None:
    """The seed covers the tx set: the ordering tx of one set does not fit another."""
    assert _reject_kind([block_20[0], *block_20[2:]]) == "invalid_proof"
    assert _reject_kind([*block_20, b"\x0aextra"]) in ("invalid_proof", "wrong_order")


def test_ordering_tx_of_another_height_or_parent_is_rejected(block_20: list[bytes]) -> None:
    assert _reject_kind(block_20, height=HEIGHT + 1) == "invalid_proof"
    assert _reject_kind(block_20, prev_app_hash=bytes(32)) == "invalid_proof"
    assert _reject_kind(block_20, chain_id="other-chain") == "invalid_proof"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_blocks_raise_only_invalid_block_order(block_20: list[bytes], data) -> None:
    block = list(block_20)
    ops = data.draw(st.lists(st.sampled_from(["swap", "drop", "flip", "insert", "dup"]),
                             min_size=1, max_size=3))
    for op in ops:
        if not block:
            break
        i = data.draw(st.integers(0, len(block) - 1))
        if op == "swap":
            j = data.draw(st.integers(0, len(block) - 1))
            block[i], block[j] = block[j], block[i]
        elif op == "drop":
            del block[i]
        elif op == "flip" and block[i]:
            raw = bytearray(block[i])
            k = data.draw(st.integers(0, len(raw) - 1))
            raw[k] ^= 1 << data.draw(st.integers(0, 7))
            block[i] = bytes(raw)
        elif op == "insert":
            block.insert(i, data.draw(st.binary(max_size=300)))
        else:
            block.insert(i, block[i])
    try:
        check(block)
    except ordering.InvalidBlockOrder as exc:
        assert exc.kind in ordering.REJECT_KINDS
    else:
        # Only a mutation that left the block valid may pass (e.g. a swap of a tx with itself).
        assert block == block_20 or ordering.order_txs(
            ordering.decode_ordering_tx(block[0]).y, block[1:]) == block[1:]


def test_split_block_separates_injected_prefix(block_20: list[bytes]) -> None:
    injected, users = ordering.split_block(block_20)
    assert injected == block_20[:1] and users == block_20[1:]


def test_deadline_fallback_gives_a_valid_block_without_user_txs() -> None:
    """A proposer whose full evaluation misses the deadline proposes the precomputed
    empty-set evaluation; validators accept it, and the txs wait for the next block."""
    iterations = 20_000
    empty_seed = ordering.compute_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, [])
    empty_job = ordering.ProveJob(empty_seed, iterations, BITS)
    assert empty_job.result(timeout=300) is not None
    order = ordering.prepare_block_order(
        user_txs(10), chain_id=CHAIN_ID, height=HEIGHT, prev_app_hash=PREV_APP_HASH,
        iterations=iterations, discriminant_bits=BITS, deadline_s=0.0, empty_job=empty_job)
    assert order.user_txs == ()
    assert order.output == empty_job.result()
    assert check(order.txs(), iterations=iterations).user_txs == ()


def test_empty_proposal_reuses_the_precomputed_evaluation() -> None:
    empty_seed = ordering.compute_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, [])
    job = ordering.ProveJob(empty_seed, T, BITS)
    order = ordering.prepare_block_order(
        [], chain_id=CHAIN_ID, height=HEIGHT, prev_app_hash=PREV_APP_HASH,
        iterations=T, discriminant_bits=BITS, empty_job=job)
    assert order.output == job.result()
    stale = ordering.ProveJob(empty_seed, T + 1, BITS)  # another T: ignored, not trusted
    order = ordering.prepare_block_order(
        [], chain_id=CHAIN_ID, height=HEIGHT, prev_app_hash=PREV_APP_HASH,
        iterations=T, discriminant_bits=BITS, empty_job=stale)
    assert check(order.txs()).user_txs == ()


def test_a_head_start_over_the_same_txs_is_used_and_one_over_others_ignored() -> None:
    """A job started earlier over the block's user txs (in any order) gives the block its
    output; one over another set, or another T, is not trusted and the VDF runs again."""
    txs = user_txs(6)
    seed = ordering.compute_block_seed(CHAIN_ID, HEIGHT, PREV_APP_HASH, txs[::-1])
    started = ordering.ProveJob(seed, T, BITS)
    order = ordering.prepare_block_order(
        txs, chain_id=CHAIN_ID, height=HEIGHT, prev_app_hash=PREV_APP_HASH,
        iterations=T, discriminant_bits=BITS, started=started)
    assert order.output == started.result()
    assert check(order.txs()).user_txs == order.user_txs
    for other in (ordering.ProveJob(seed, T + 1, BITS),
                  ordering.ProveJob(ordering.compute_block_seed(
                      CHAIN_ID, HEIGHT, PREV_APP_HASH, txs[:5]), T, BITS)):
        order = ordering.prepare_block_order(
            txs, chain_id=CHAIN_ID, height=HEIGHT, prev_app_hash=PREV_APP_HASH,
            iterations=T, discriminant_bits=BITS, started=other)
        assert order.output != other.result()
        assert check(order.txs()).user_txs == order.user_txs
