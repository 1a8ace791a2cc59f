"""ProcessProposal of a real OptioApp against honest and dishonest proposals at height 2:
the block layout `[oracle tx] [ordering tx] [user txs in VDF order]`, the oracle tx's vote
extensions and signatures, and the VDF order (STYLE §9: drive the real state machine)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from abci.proto import abci_pb2, crypto_pb2, types_pb2
from chain.address import address_from_public_key
from chain.app import OptioApp
from chain.oracle.canonical import vote_extension_sign_bytes
from chain.oracle.extension import Observation, encode_extension
from chain import ordering
from chain.oracle.tx import build_oracle_tx, decode_oracle_tx
from chain.ordering import (
    VdfOutput,
    decode_ordering_tx,
    encode_ordering_tx,
    is_injected_tx,
)
from chain.tx import build_send_tx, public_key_bytes
from genesis.presets import localnet_app_genesis
from state.oracle import get_price
from state.params import Params
from state.proof import verify
from state.store import Store
from state.validators import consensus_address

CHAIN_ID = "optio-proposal"
T = 300
ACCEPT = abci_pb2.ResponseProcessProposal.ACCEPT
REJECT = abci_pb2.ResponseProcessProposal.REJECT
COMMIT = types_pb2.BLOCK_ID_FLAG_COMMIT
ABSENT = types_pb2.BLOCK_ID_FLAG_ABSENT
ACCOUNT_KEYS = [bytes([i]) * 32 for i in range(1, 4)]
ACCOUNTS = [address_from_public_key(public_key_bytes(k)) for k in ACCOUNT_KEYS]
VALIDATOR_SEEDS = [bytes([0x40 + i]) * 32 for i in range(4)]
VALIDATOR_KEYS = [Ed25519PrivateKey.from_private_bytes(s) for s in VALIDATOR_SEEDS]
VALIDATOR_PUBS = [k.public_key().public_bytes_raw() for k in VALIDATOR_KEYS]
POWER = 10
PRICES = [(100_000_000_000, 3_000_000_000), (100_100_000_000, 3_001_000_000),
          (99_900_000_000, 2_999_000_000), (10**15, 1)]  # the last validator is wild


def genesis_bytes() -> bytes:
    genesis = localnet_app_genesis(ACCOUNTS, params=replace(Params(), vdf_iterations=T))
    return json.dumps(genesis.to_json()).encode()


def send(sender: int, nonce: int) -> bytes:
    return build_send_tx(ACCOUNT_KEYS[sender], chain_id=CHAIN_ID, nonce=nonce, to=ACCOUNTS[2],
                         amount=7, denom="uusd", fee=100)


def extended_commit(height: int, *, flags: list[int] | None = None,
                    round_: int = 0) -> abci_pb2.ExtendedCommitInfo:
    """What CometBFT hands the proposer of height + 1: every validator's signed extension."""
    votes = []
    for i, key in enumerate(VALIDATOR_KEYS):
        flag = COMMIT if flags is None else flags[i]
        validator = abci_pb2.Validator(address=consensus_address(VALIDATOR_PUBS[i]), power=POWER)
        if flag != COMMIT:
            votes.append(abci_pb2.ExtendedVoteInfo(validator=validator, block_id_flag=flag))
            continue
        ext = encode_extension(Observation(((0, PRICES[i][0]), (1, PRICES[i][1]))),
                               n_underlyings=2, max_bytes=512)
        sig = key.sign(vote_extension_sign_bytes(ext, height, round_, CHAIN_ID))
        votes.append(abci_pb2.ExtendedVoteInfo(validator=validator, vote_extension=ext,
                                               extension_signature=sig, block_id_flag=flag))
    return abci_pb2.ExtendedCommitInfo(round=round_, votes=votes)


def last_commit(ext: abci_pb2.ExtendedCommitInfo) -> abci_pb2.CommitInfo:
    return abci_pb2.CommitInfo(round=ext.round, votes=[
        abci_pb2.VoteInfo(validator=v.validator, block_id_flag=v.block_id_flag) for v in ext.votes])


def _answer(response: Any) -> Any:
    """The response itself, or what it resolves to when the app offloads (an awaitable)."""
    return asyncio.run(response) if inspect.isawaitable(response) else response


class Chain:
    """One app at height 1 committed, about to see proposals for height 2."""

    def __init__(self, path: Path, **app_settings: Any) -> None:
        self.store = Store(path)
        self.app = OptioApp(self.store, check_invariants=True, **app_settings)
        params = types_pb2.ConsensusParams(abci=types_pb2.ABCIParams(vote_extensions_enable_height=1))
        self.app.init_chain(abci_pb2.RequestInitChain(
            chain_id=CHAIN_ID, app_state_bytes=genesis_bytes(), initial_height=1,
            consensus_params=params, validators=[
                abci_pb2.ValidatorUpdate(pub_key=crypto_pb2.PublicKey(ed25519=pub), power=POWER)
                for pub in VALIDATOR_PUBS]))
        block1 = self.prepare(1, [send(0, 1)])
        assert self.process(1, block1) == ACCEPT
        self.finalize(1, block1, seconds=1_000)
        self.app.commit(abci_pb2.RequestCommit())

    def prepare(self, height: int, txs: list[bytes],
                commit: abci_pb2.ExtendedCommitInfo | None = None) -> list[bytes]:
        return list(_answer(self.app.prepare_proposal(abci_pb2.RequestPrepareProposal(
            height=height, max_tx_bytes=1 << 20, txs=txs,
            local_last_commit=commit or abci_pb2.ExtendedCommitInfo()))).txs)

    def process(self, height: int, txs: list[bytes],
                commit: abci_pb2.CommitInfo | None = None) -> int:
        return _answer(self.app.process_proposal(abci_pb2.RequestProcessProposal(
            height=height, txs=txs, proposed_last_commit=commit))).status

    def finalize(self, height: int, txs: list[bytes], seconds: int) -> abci_pb2.ResponseFinalizeBlock:
        return self.app.finalize_block(abci_pb2.RequestFinalizeBlock(
            height=height, txs=txs, time=Timestamp(seconds=seconds)))


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    made = Chain(tmp_path / "db")
    yield made
    made.store.close()


USER_TXS = [send(0, 2), send(0, 3), send(1, 1), send(1, 2), send(0, 4)]


@pytest.fixture
def honest(chain: Chain) -> tuple[list[bytes], abci_pb2.CommitInfo]:
    ext = extended_commit(1)
    return chain.prepare(2, USER_TXS, ext), last_commit(ext)


def test_an_honest_block_has_the_layout_and_is_accepted(
    chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo],
) -> None:
    txs, commit = honest
    assert decode_oracle_tx(txs[0]) is not None
    decode_ordering_tx(txs[1])
    assert sorted(txs[2:]) == sorted(USER_TXS) and not any(is_injected_tx(t) for t in txs[2:])
    assert chain.process(2, txs, commit) == ACCEPT
    result = chain.finalize(2, txs, seconds=1_001)
    assert [r.code for r in result.tx_results] == [0] * len(txs)
    btc = get_price(chain.app._pending, "BTC")  # type: ignore[arg-type]
    assert btc is not None and btc.price_ticks == 100_000_000_000 and btc.height == 2


def test_the_proposer_accepts_its_own_block_without_verifying_it_again_and_a_peer_verifies_it(
    tmp_path: Path, chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    txs, commit = honest
    peer = Chain(tmp_path / "peer")
    try:
        verified: list[int] = []
        real = ordering.verify
        monkeypatch.setattr(ordering, "verify", lambda *a: verified.append(1) or real(*a))
        assert chain.process(2, txs, commit) == ACCEPT
        assert verified == []
        assert peer.process(2, txs, commit) == ACCEPT
        assert verified == [1]
        # The shortcut is for the exact block proposed: any other block is checked in full.
        assert chain.process(2, [txs[0], txs[1], *reversed(txs[2:])], commit) == REJECT
    finally:
        peer.store.close()


def test_offloaded_proposal_calls_return_awaitables_with_the_synchronous_answers(
    tmp_path: Path, chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo],
) -> None:
    txs, commit = honest
    node = Chain(tmp_path / "offloaded", offload=True)
    try:
        prepared = node.app.prepare_proposal(abci_pb2.RequestPrepareProposal(
            height=2, max_tx_bytes=1 << 20, txs=USER_TXS, local_last_commit=extended_commit(1)))
        assert inspect.isawaitable(prepared)
        assert list(asyncio.run(prepared).txs) == txs
        node.app._own_proposal = None  # judge the blocks as a peer would
        for block, status in ((txs, ACCEPT), ([txs[0], txs[1], *reversed(txs[2:])], REJECT)):
            answer = node.app.process_proposal(
                abci_pb2.RequestProcessProposal(height=2, txs=block, proposed_last_commit=commit))
            assert inspect.isawaitable(answer)
            assert asyncio.run(answer).status == status
    finally:
        node.store.close()


def test_the_wild_validator_cannot_move_the_median(
    chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo],
) -> None:
    txs, _ = honest
    chain.finalize(2, txs, seconds=1_001)
    eth = get_price(chain.app._pending, "ETH")  # type: ignore[arg-type]
    assert eth is not None and 2_999_000_000 <= eth.price_ticks <= 3_001_000_000


def with_ordering(txs: list[bytes], **change: object) -> list[bytes]:
    ordering = decode_ordering_tx(txs[1])
    y = change.get("y", ordering.y)
    proof = change.get("proof", ordering.proof)
    iterations = change.get("iterations", ordering.iterations)
    return [txs[0], encode_ordering_tx(VdfOutput(y, proof), iterations), *txs[2:]]  # type: ignore[arg-type]


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes((data[index] ^ 1,)) + data[index + 1:]


REASONS = {
    "reordered_user_txs": "wrong_order", "dropped_ordering_tx": "missing_ordering_tx",
    "forged_vdf_proof": "invalid_proof", "forged_vdf_output": "invalid_proof",
    "changed_T": "wrong_iterations", "fake_second_oracle_tx": "unexpected_oracle_tx",
    "omitted_oracle_tx": "missing_oracle_tx",
    "flipped_extension_signature": "bad extension signature",
    "flipped_extension_byte": "bad extension signature", "too_little_power": "need > 2/3",
    "changed_power": "power 30, the set says 10",
    "dropped_committed_vote": "last commit is missing",
    "oracle_tx_after_ordering_tx": "missing_oracle_tx",
    "user_tx_added_after_ordering": "invalid_proof",  # the seed covers the user-tx set
}


@pytest.mark.parametrize("attack", sorted(REASONS))
def test_a_dishonest_proposal_is_rejected(
    chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo], attack: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    txs, commit = honest
    oracle = decode_oracle_tx(txs[0])
    assert oracle is not None
    if attack == "reordered_user_txs":
        bad = [txs[0], txs[1], txs[3], txs[2], *txs[4:]]
    elif attack == "dropped_ordering_tx":
        bad = [txs[0], *txs[2:]]
    elif attack == "forged_vdf_proof":
        bad = with_ordering(txs, proof=flip(decode_ordering_tx(txs[1]).proof, 50))
    elif attack == "forged_vdf_output":
        bad = with_ordering(txs, y=flip(decode_ordering_tx(txs[1]).y, 50))
    elif attack == "changed_T":
        bad = with_ordering(txs, iterations=T + 1)
    elif attack == "fake_second_oracle_tx":
        bad = [txs[0], txs[0], *txs[1:]]
    elif attack == "omitted_oracle_tx":
        bad = txs[1:]
    elif attack == "oracle_tx_after_ordering_tx":
        bad = [txs[1], txs[0], *txs[2:]]
    elif attack == "user_tx_added_after_ordering":
        bad = [*txs, send(2, 1)]
    else:
        ext = extended_commit(1)
        if attack == "flipped_extension_signature":
            ext.votes[2].extension_signature = flip(ext.votes[2].extension_signature, 10)
        elif attack == "flipped_extension_byte":
            ext.votes[2].vote_extension = flip(ext.votes[2].vote_extension, 5)
        elif attack == "too_little_power":
            ext = extended_commit(1, flags=[COMMIT, COMMIT, ABSENT, ABSENT])
        elif attack == "changed_power":
            ext.votes[0].validator.power = POWER * 3
        elif attack == "dropped_committed_vote":
            ext.votes[3].CopyFrom(abci_pb2.ExtendedVoteInfo(
                validator=ext.votes[3].validator, block_id_flag=ABSENT))
        bad = [build_oracle_tx(ext), *txs[1:]]
    with caplog.at_level(logging.WARNING, logger="optio.app"):
        assert chain.process(2, bad, commit) == REJECT
    assert REASONS[attack] in caplog.text


def test_one_validator_down_still_carries_more_than_two_thirds(chain: Chain) -> None:
    ext = extended_commit(1, flags=[COMMIT, COMMIT, COMMIT, ABSENT])
    txs = chain.prepare(2, USER_TXS, ext)
    assert chain.process(2, txs, last_commit(ext)) == ACCEPT
    chain.finalize(2, txs, seconds=1_001)
    assert get_price(chain.app._pending, "BTC").price_ticks == 100_000_000_000  # type: ignore[arg-type,union-attr]


def test_users_cannot_submit_injected_txs(
    chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo],
) -> None:
    txs, _ = honest
    for raw in txs[:2]:
        answer = chain.app.check_tx(abci_pb2.RequestCheckTx(tx=raw))
        assert answer.code == 80 and answer.codespace == "optio"


def test_prepare_proposal_leaves_out_injected_txs_from_the_mempool(
    chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo],
) -> None:
    txs, _ = honest
    ext = extended_commit(1)
    again = chain.prepare(2, [txs[0], txs[1], *USER_TXS], ext)
    assert again == txs


def test_max_tx_bytes_counts_the_injected_txs(chain: Chain) -> None:
    ext = extended_commit(1)
    full = chain.prepare(2, USER_TXS, ext)
    # CometBFT counts the txs as the block's protobuf Data (each with its tag and length),
    # encoded as this response's field 1.
    budget = abci_pb2.ResponsePrepareProposal(txs=[*full[:2], *USER_TXS[:2]]).ByteSize()
    tight = chain.app.prepare_proposal(abci_pb2.RequestPrepareProposal(
        height=2, max_tx_bytes=budget, txs=USER_TXS, local_last_commit=ext))
    assert len(tight.txs) == 4 and tight.ByteSize() <= budget


def test_queries_serve_prices_twap_and_block_order_with_proofs(
    chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo],
) -> None:
    txs, _ = honest
    chain.finalize(2, txs, seconds=1_001)
    app_hash = chain.app.commit(abci_pb2.RequestCommit()) and chain.store.last_app_hash

    def query(path: str, prove: bool = False) -> abci_pb2.ResponseQuery:
        answer = chain.app.query(abci_pb2.RequestQuery(path=path, prove=prove))
        assert answer.code == 0, answer.log
        return answer

    prices = json.loads(query("/oracle/prices").value)
    assert prices["prices"]["BTC"]["price"] == "100000.000000"
    assert prices["prices"]["BTC"]["height"] == "2"
    price = query("/oracle/price/ETH", prove=True)
    op = price.proof_ops.ops[0]
    assert verify(app_hash, op.key, chain.store.get(op.key), op.data)
    assert json.loads(price.value)["price_ticks"] == "2999000000"  # lower median of 4
    twap = json.loads(query("/oracle/twap/BTC/1800").value)
    assert twap["price_ticks"] == "100000000000" and twap["rounding"] == "down"
    order = query("/block_order/2", prove=True)
    beacon = json.loads(order.value)
    assert beacon["y"] == decode_ordering_tx(txs[1]).y.hex()
    assert beacon["iterations"] == str(T)
    op = order.proof_ops.ops[0]
    assert verify(app_hash, op.key, chain.store.get(op.key), op.data)
    for path, code in (("/oracle/twap/DOGE/60", 101), ("/oracle/twap/BTC/x", 101),
                       ("/oracle/nope", 100), ("/block_order/-1", 101)):
        assert chain.app.query(abci_pb2.RequestQuery(path=path)).code == code, path


def test_a_node_restarted_before_finalizing_reaches_the_same_app_hash(
    chain: Chain, honest: tuple[list[bytes], abci_pb2.CommitInfo], tmp_path: Path,
) -> None:
    txs, commit = honest
    expected = chain.finalize(2, txs, seconds=1_001).app_hash
    chain.store.close()
    chain.store = Store(tmp_path / "db")
    chain.app = OptioApp(chain.store, check_invariants=True)
    # as after a crash: no ProcessProposal, the committed state of height 1 and the block
    assert chain.finalize(2, txs, seconds=1_001).app_hash == expected


def test_a_vdf_that_misses_the_deadline_yields_a_valid_block_without_user_txs(
    tmp_path: Path,
) -> None:
    chain = Chain(tmp_path / "db", precompute_vdf=True, vdf_deadline_s=0.0)
    try:
        # started by FinalizeBlock of height 1 (precompute_vdf), for height 2 on its app hash
        assert chain.app._empty_job is not None and chain.app._empty_job.result(30) is not None
        ext = extended_commit(1)
        txs = chain.prepare(2, USER_TXS, ext)
        assert len(txs) == 2  # oracle tx + the precomputed empty-set ordering tx
        assert chain.process(2, txs, last_commit(ext)) == ACCEPT
    finally:
        chain.store.close()


def test_verify_vote_extension_accepts_what_extend_vote_produces_and_rejects_garbage(
    chain: Chain,
) -> None:
    from chain.oracle.feeder import Feeder, OracleConfig, SimSource

    verify_ok = abci_pb2.ResponseVerifyVoteExtension.ACCEPT
    for feeder in (None, Feeder(None, max_age_s=10),
                   Feeder(SimSource(OracleConfig(source="sim", sim_bias_ppm=10**9)), max_age_s=10)):
        chain.app._feeder = feeder
        extension = chain.app.extend_vote(abci_pb2.RequestExtendVote(height=2)).vote_extension
        answer = chain.app.verify_vote_extension(abci_pb2.RequestVerifyVoteExtension(
            height=2, vote_extension=extension))
        assert answer.status == verify_ok
    assert extension  # the last (wild but well-formed) feeder did report prices
    for garbage in (b"\x01", b"\x02\x01\x00" + bytes(8), b"\x01\x01\x05" + bytes(7) + b"\x01",
                    b"\x01" * 600):
        answer = chain.app.verify_vote_extension(abci_pb2.RequestVerifyVoteExtension(
            height=2, vote_extension=garbage))
        assert answer.status == abci_pb2.ResponseVerifyVoteExtension.REJECT
