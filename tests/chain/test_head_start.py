"""The proposer's VDF head start (chain/app.py `_start_head_start`), in-process (an
in-process driver, not a chain test): once the node foresees that it proposes next,
FinalizeBlock starts the VDF over the txs its mempool keeps, and PrepareProposal uses that
evaluation when CometBFT offers those txs. The block is what an honest proposer may build: a
verifier (another node, without head start) accepts it."""

from __future__ import annotations

import json
from pathlib import Path

from abci.proto import abci_pb2
from chain.address import address_from_public_key
from chain.app import OptioApp
from chain.ordering import split_block
from chain.tx import build_send_tx, public_key_bytes
from genesis.presets import localnet_app_genesis
from state.store import Store

CHAIN_ID = "optio-head-start"
KEYS = [bytes([i]) * 32 for i in range(1, 4)]
ADDRESSES = [address_from_public_key(public_key_bytes(k)) for k in KEYS]
GENESIS = json.dumps(localnet_app_genesis(ADDRESSES).to_json()).encode()
VALIDATOR = b"\x07" * 20
ACCEPT = abci_pb2.ResponseProcessProposal.ACCEPT


def send(sender: int, nonce: int) -> bytes:
    return build_send_tx(KEYS[sender], chain_id=CHAIN_ID, nonce=nonce, to=ADDRESSES[2],
                         amount=1, denom="uusd", fee=100)


def app_at(path: Path, head_start: bool) -> OptioApp:
    app = OptioApp(Store(path), vdf_head_start=head_start)
    app.init_chain(abci_pb2.RequestInitChain(
        chain_id=CHAIN_ID, app_state_bytes=GENESIS, initial_height=1))
    return app


def test_the_foreseen_proposer_uses_the_evaluation_started_at_finalize_block(
    tmp_path: Path,
) -> None:
    proposer, verifier = app_at(tmp_path / "p", True), app_at(tmp_path / "v", False)
    mempool: list[bytes] = []
    used = []
    for height in range(1, 8):
        head = proposer._head_start
        offered = list(mempool)
        if height == 6:
            offered = offered[1:]  # CometBFT lost a tx the head start covers: not used
        prepared = proposer.prepare_proposal(abci_pb2.RequestPrepareProposal(
            height=height, txs=offered, max_tx_bytes=1 << 20, proposer_address=VALIDATOR)).txs
        user_txs = split_block(list(prepared))[1]
        used.append(head is not None and sorted(user_txs) == sorted(head.txs)
                    and head.job.done)
        assert sorted(user_txs) == sorted(offered)
        assert verifier.process_proposal(abci_pb2.RequestProcessProposal(
            height=height, txs=prepared, proposer_address=VALIDATOR)).status == ACCEPT
        new = [send(height % 2, height), send(height % 2, height + 100)]
        for raw in new:  # arriving while the block is voted on
            assert proposer.check_tx(abci_pb2.RequestCheckTx(tx=raw)).code == 0
        for app in (proposer, verifier):
            app.finalize_block(abci_pb2.RequestFinalizeBlock(
                height=height, txs=prepared, proposer_address=VALIDATOR))
        for app in (proposer, verifier):
            app.commit(abci_pb2.RequestCommit())
        mempool = [raw for raw in mempool if raw not in user_txs] + new
        for raw in mempool:  # CometBFT's recheck
            assert proposer.check_tx(abci_pb2.RequestCheckTx(
                tx=raw, type=abci_pb2.RECHECK)).code == 0
    # Heights 1-3 teach the forecast; from FinalizeBlock of height 3 on the proposer starts
    # early, except that at height 6 CometBFT did not offer every covered tx.
    assert used == [False, False, False, True, True, False, True]


def test_a_head_start_over_a_small_share_of_the_offered_txs_is_dropped(tmp_path: Path) -> None:
    """After a block that emptied the mempool the head start covers the few txs left; when
    many more arrive before PrepareProposal, the proposal takes them all with a new
    evaluation instead of holding them back a block."""
    proposer, verifier = app_at(tmp_path / "p", True), app_at(tmp_path / "v", False)
    mempool: list[bytes] = []
    for height in range(1, 7):
        head = proposer._head_start
        prepared = proposer.prepare_proposal(abci_pb2.RequestPrepareProposal(
            height=height, txs=mempool, max_tx_bytes=1 << 20, proposer_address=VALIDATOR)).txs
        user_txs = split_block(list(prepared))[1]
        assert sorted(user_txs) == sorted(mempool)
        if height >= 4:  # the forecast is learnt: the head start covered `left` alone
            assert head is not None and head.txs == (mempool[0],)
        assert verifier.process_proposal(abci_pb2.RequestProcessProposal(
            height=height, txs=prepared, proposer_address=VALIDATOR)).status == ACCEPT
        left = send(0, height)  # arrives before FinalizeBlock: the head start covers it
        assert proposer.check_tx(abci_pb2.RequestCheckTx(tx=left)).code == 0
        for app in (proposer, verifier):
            app.finalize_block(abci_pb2.RequestFinalizeBlock(
                height=height, txs=prepared, proposer_address=VALIDATOR))
        for app in (proposer, verifier):
            app.commit(abci_pb2.RequestCommit())
        assert proposer.check_tx(abci_pb2.RequestCheckTx(tx=left, type=abci_pb2.RECHECK)).code == 0
        later = [send(1, 10 * height + i) for i in range(3)]  # after FinalizeBlock
        for raw in later:
            assert proposer.check_tx(abci_pb2.RequestCheckTx(tx=raw)).code == 0
        mempool = [left, *later]
