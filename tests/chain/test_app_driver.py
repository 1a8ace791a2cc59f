"""The Optio application driven in-process, the way CometBFT calls it (an in-process driver,
not a chain test: the real-CometBFT tests are in tests/e2e/). Covers the block lifecycle, crash
safety of Commit/Info, and shadow nodes that must reach the same app hash (STYLE §10)."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from abci.proto import abci_pb2
from chain.address import address_from_public_key, parse_address
import chain.app
from chain.app import OptioApp
from chain.ordering import is_injected_tx, ordering_tx_size, prepare_block_order
from chain.tx import build_send_tx, public_key_bytes
from genesis.presets import localnet_app_genesis
from state.codec import decode_u64, encode_u64
from state.keys import balance_key
from state.params import get_params
from state.proof import verify
from state.store import Store

CHAIN_ID = "optio-driver"
KEYS = [bytes([i]) * 32 for i in range(1, 5)]
ADDRESSES = [address_from_public_key(public_key_bytes(k)) for k in KEYS]
GENESIS = json.dumps(localnet_app_genesis(ADDRESSES[:3]).to_json()).encode()
ACCEPT = abci_pb2.ResponseProcessProposal.ACCEPT
REJECT = abci_pb2.ResponseProcessProposal.REJECT


class Node:
    """One app over its own LevelDB, with the calls CometBFT makes per block."""

    def __init__(self, path: Path, *, check_invariants: bool = True) -> None:
        self.path = path
        self.store = Store(path)
        self.app = OptioApp(self.store, check_invariants=check_invariants)

    def init_chain(self) -> bytes:
        return self.app.init_chain(abci_pb2.RequestInitChain(
            chain_id=CHAIN_ID, app_state_bytes=GENESIS, initial_height=1)).app_hash

    def finalize(self, height: int, txs: list[bytes]) -> abci_pb2.ResponseFinalizeBlock:
        return self.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=height, txs=txs))

    def block(self, height: int, txs: list[bytes]) -> bytes:
        app_hash = self.finalize(height, txs).app_hash
        self.app.commit(abci_pb2.RequestCommit())
        return app_hash

    def info(self) -> abci_pb2.ResponseInfo:
        return self.app.info(abci_pb2.RequestInfo(abci_version="2.0.0"))

    def restart(self) -> None:
        self.store.close()
        self.store = Store(self.path)
        self.app = OptioApp(self.store, check_invariants=True)

    def handshake_restart(self) -> None:
        """Restart as CometBFT would see it: with nothing committed yet, it calls InitChain."""
        self.restart()
        if self.info().last_block_height == 0:
            self.init_chain()

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    made = [Node(tmp_path / f"node{i}") for i in range(3)]
    yield made
    for node in made:
        node.close()


def send(sender: int, nonce: int, amount: int, to: int = 3) -> bytes:
    return build_send_tx(KEYS[sender], chain_id=CHAIN_ID, nonce=nonce, to=ADDRESSES[to],
                         amount=amount, denom="uusd", fee=100)


def random_blocks(seed: int, count: int) -> list[list[bytes]]:
    """Blocks of transfers, some of which fail (replays, overspends) by construction."""
    rng = random.Random(seed)
    nonces = [1, 1, 1]
    blocks = []
    for _ in range(count):
        txs = []
        for _ in range(rng.randrange(0, 12)):
            sender = rng.randrange(3)
            if rng.random() < 0.15:
                txs.append(send(sender, max(1, nonces[sender] - 1), 5))  # replayed nonce
                continue
            amount = rng.choice([1, 10**6, 10**13])  # the last one overspends
            txs.append(send(sender, nonces[sender], amount, to=rng.randrange(4)))
            nonces[sender] += 1
        blocks.append(txs)
    return blocks


def test_shadow_nodes_without_checktx_and_restarted_before_every_block_agree(
    nodes: list[Node],
) -> None:
    full, shadow, restarted = nodes
    for node in nodes:
        node.init_chain()
    for height, txs in enumerate(random_blocks(seed=7, count=25), start=1):
        for tx in txs:
            full.app.check_tx(abci_pb2.RequestCheckTx(tx=tx))
        restarted.handshake_restart()
        hashes = {full.block(height, txs), shadow.block(height, txs),
                  restarted.block(height, txs)}
        assert len(hashes) == 1, f"app hashes diverged at height {height}"


def test_info_reports_exactly_the_committed_height_and_hash_after_a_restart(
    nodes: list[Node],
) -> None:
    node = nodes[0]
    assert node.info().last_block_height == 0 and node.info().last_block_app_hash == b""
    node.init_chain()
    app_hash = node.block(1, [send(0, 1, 500)])
    node.restart()
    info = node.info()
    assert (info.last_block_height, info.last_block_app_hash) == (1, app_hash)


def test_crash_between_finalize_and_commit_replays_to_the_same_hash(nodes: list[Node]) -> None:
    node, reference = nodes[0], nodes[1]
    for n in (node, reference):
        n.init_chain()
        n.block(1, [send(0, 1, 500)])
    txs = [send(1, 1, 700), send(2, 1, 900)]
    expected = reference.block(2, txs)
    assert node.finalize(2, txs).app_hash == expected
    node.restart()  # the process died before Commit: nothing of block 2 was written
    assert node.info().last_block_height == 1
    assert node.block(2, txs) == expected


def test_crash_before_the_first_commit_means_init_chain_again(nodes: list[Node]) -> None:
    node = nodes[0]
    genesis_hash = node.init_chain()
    node.restart()
    assert node.info().last_block_height == 0
    assert node.init_chain() == genesis_hash


def test_a_failing_tx_in_a_block_has_its_code_and_changes_nothing(nodes: list[Node]) -> None:
    node, reference = nodes[0], nodes[1]
    for n in (node, reference):
        n.init_chain()
    good = send(0, 1, 500)
    result = node.finalize(1, [good, send(1, 1, 10**15), good])
    assert [r.code for r in result.tx_results] == [0, 35, 31]
    assert "insufficient funds" in result.tx_results[1].log
    assert result.app_hash == reference.finalize(1, [good]).app_hash


def test_a_transfer_is_indexed_by_its_parties_not_by_its_figures(nodes: list[Node]) -> None:
    node = nodes[0]
    node.init_chain()
    result = node.finalize(1, [send(0, 1, 500)]).tx_results[0]
    indexed = {(e.type, a.key): a.index for e in result.events for a in e.attributes}
    assert indexed == {
        ("tx", "signer"): True, ("tx", "nonce"): False, ("tx", "fee"): False,
        ("transfer", "sender"): True, ("transfer", "recipient"): True,
        ("transfer", "amount"): False,
    }


def test_process_proposal_rejects_a_block_with_a_tx_an_honest_proposer_would_not_include(
    nodes: list[Node],
) -> None:
    node = nodes[0]
    node.init_chain()
    good = send(0, 1, 500)
    wrong_chain = build_send_tx(KEYS[0], chain_id="other", nonce=2, to=ADDRESSES[1],
                                amount=1, denom="uusd", fee=100)
    honest = prepare(node, [good])
    # A block of bad txs with a valid ordering tx: the VDF check passes, the tx check fails.
    with_bad_tx = prepare(node, [wrong_chain], validate=False)
    for txs, status in ((honest, ACCEPT), ([*honest, b"\x00garbage"], REJECT),
                        (with_bad_tx, REJECT), ([good], REJECT)):
        answer = node.app.process_proposal(abci_pb2.RequestProcessProposal(height=1, txs=txs))
        assert answer.status == status


def data_bytes(txs: list[bytes]) -> int:
    """What CometBFT counts against `max_tx_bytes`: the txs as a block's protobuf `Data`
    (`repeated bytes txs = 1`, encoded exactly as this response's field 1)."""
    return abci_pb2.ResponsePrepareProposal(txs=txs).ByteSize()


def test_prepare_proposal_drops_invalid_txs_and_respects_max_bytes(nodes: list[Node]) -> None:
    node = nodes[0]
    node.init_chain()
    txs = [send(0, n, 1) for n in range(1, 6)]
    ordering_bytes = ordering_tx_size(get_params(node.app._mempool.state).vdf_iterations)
    budget = data_bytes([bytes(ordering_bytes), *txs[:3]])
    for max_tx_bytes, fitting in ((budget, 3), (budget - 1, 2)):
        answer = node.app.prepare_proposal(abci_pb2.RequestPrepareProposal(
            height=1, max_tx_bytes=max_tx_bytes, txs=[b"junk", *txs]))
        assert is_injected_tx(answer.txs[0])  # the ordering tx comes first (no oracle at 1)
        assert sorted(answer.txs[1:]) == sorted(txs[:fitting])
        assert data_bytes(list(answer.txs)) <= max_tx_bytes


def test_a_proposal_from_a_full_mempool_fits_the_block_as_cometbft_counts_it(
    nodes: list[Node]
) -> None:
    """CometBFT reaps txs up to `max_tx_bytes` counting each with its protobuf framing (2–3
    bytes) and stops with a consensus failure if the answer exceeds it: the proposer must
    count the same way, not the bare tx lengths."""
    node = nodes[0]
    node.init_chain()
    txs = [send(sender, n, 1) for n in range(1, 101) for sender in range(3)]
    max_tx_bytes = sum(map(len, txs))  # the bare lengths would all fit, with the ordering tx
    answer = node.app.prepare_proposal(abci_pb2.RequestPrepareProposal(
        height=1, max_tx_bytes=max_tx_bytes, txs=txs))
    assert data_bytes(list(answer.txs)) <= max_tx_bytes
    assert data_bytes(list(answer.txs)) > max_tx_bytes - len(txs[0]) - 3  # and it is full


def prepare(node: Node, txs: list[bytes], *, validate: bool = True) -> list[bytes]:
    """An honest proposal at height 1: the ordering tx, then `txs` in VDF order. Without
    `validate` the txs are ordered without the proposer's validity filter."""
    if validate:
        return list(node.app.prepare_proposal(abci_pb2.RequestPrepareProposal(
            height=1, max_tx_bytes=1 << 20, txs=txs)).txs)
    params = get_params(node.app._mempool.state)
    genesis_hash = node.app._genesis_app_hash
    return prepare_block_order(txs, chain_id=CHAIN_ID, height=1, prev_app_hash=genesis_hash,
                               iterations=params.vdf_iterations,
                               discriminant_bits=params.vdf_discriminant_bits).txs()


def test_checktx_sees_earlier_mempool_txs_and_resets_after_commit(nodes: list[Node]) -> None:
    node = nodes[0]
    node.init_chain()
    tx = send(0, 1, 500)
    assert node.app.check_tx(abci_pb2.RequestCheckTx(tx=tx)).code == 0
    assert node.app.check_tx(abci_pb2.RequestCheckTx(tx=tx)).code == 31
    node.block(1, [])
    recheck = abci_pb2.RequestCheckTx(tx=tx, type=abci_pb2.RECHECK)
    assert node.app.check_tx(recheck).code == 0


@pytest.mark.parametrize("offload", [False, True])
def test_checktx_batch_answers_exactly_as_checktx_one_by_one(
    tmp_path: Path, offload: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch (as the ABCI server hands it) gets the answers, in order, and leaves the check
    state that one CheckTx per tx would: with `offload` its signatures are verified in worker
    threads, group by group (here of 4 requests), and each tx is checked in order with its
    verdict."""
    monkeypatch.setattr(chain.app, "_VERIFY_GROUP", 4)
    forged = bytearray(send(1, 1, 5))
    forged[-1] ^= 1  # the last byte is in the signature
    one_by_one, batched = Node(tmp_path / "a"), Node(tmp_path / "b")
    batched.app = OptioApp(batched.store, check_invariants=True, offload=offload)
    for node in (one_by_one, batched):
        node.init_chain()
    ordering = prepare(one_by_one, [], validate=False)[0]
    txs = [send(0, n, 700) for n in range(1, 12)]
    batch = [*txs[:10], bytes(forged), txs[3], b"\xffgarbage", ordering, send(0, 12, 10**15),
             send(1, 1, 5), *txs[10:]]
    expected = [one_by_one.app.check_tx(abci_pb2.RequestCheckTx(tx=tx)) for tx in batch]
    answers = batched.app.check_tx_batch([abci_pb2.RequestCheckTx(tx=tx) for tx in batch])
    if offload:
        answers = asyncio.run(answers)
    assert answers == expected
    assert [a.code for a in answers].count(0) == 12
    # malformed, bad signature, replayed nonce, insufficient funds, injected-only tx
    assert {a.code for a in answers} - {0} == {2, 10, 31, 35, 80}
    later = send(0, 13, 1)
    assert (batched.app.check_tx(abci_pb2.RequestCheckTx(tx=later))
            == one_by_one.app.check_tx(abci_pb2.RequestCheckTx(tx=later)))


def test_stepwise_finalize_block_with_checktx_in_between_answers_as_in_one_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `offload` a long block runs in steps (here of 2 txs) with the event loop free in
    between; CheckTx served meanwhile changes neither the block's answer nor its app hash."""
    monkeypatch.setattr(chain.app, "_FINALIZE_STEP", 2)
    in_one_go, stepwise = Node(tmp_path / "a"), Node(tmp_path / "b")
    stepwise.app = OptioApp(stepwise.store, check_invariants=True, offload=True)
    for node in (in_one_go, stepwise):
        node.init_chain()
    block = [send(0, 1, 5), send(1, 1, 10**15), send(2, 1, 7), send(0, 1, 5), send(0, 2, 9)]
    expected = in_one_go.finalize(1, block)
    checked: list[int] = []

    async def mempool() -> None:
        for nonce in range(3, 6):
            checked.append(stepwise.app.check_tx(abci_pb2.RequestCheckTx(tx=send(0, nonce, 1))).code)
            await asyncio.sleep(0)

    async def both() -> abci_pb2.ResponseFinalizeBlock:
        answer, _ = await asyncio.gather(stepwise.finalize(1, block), mempool())
        return answer

    assert asyncio.run(both()) == expected
    assert [r.code for r in expected.tx_results] == [0, 35, 0, 31, 0]
    assert checked == [0, 0, 0]
    stepwise.app.commit(abci_pb2.RequestCommit())
    assert stepwise.info().last_block_app_hash == expected.app_hash


def test_checktx_batch_of_txs_decoded_before_waits_for_the_block_and_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch arriving while a block executes in steps, every tx of which was decoded before
    (CometBFT's mempool cache forgets txs under heavy load and lets repeats through), has no
    signature to verify: it still waits for the block and answers as one CheckTx per tx."""
    monkeypatch.setattr(chain.app, "_FINALIZE_STEP", 2)
    reference, stepwise = Node(tmp_path / "a"), Node(tmp_path / "b")
    stepwise.app = OptioApp(stepwise.store, check_invariants=True, offload=True)
    for node in (reference, stepwise):
        node.init_chain()
    block = [send(0, 1, 5), send(1, 1, 5), send(2, 1, 7)]
    repeats = [*block, send(0, 2, 9)]
    for tx in repeats:
        stepwise.app._decode(tx)
    reference.finalize(1, block)
    expected = [reference.app.check_tx(abci_pb2.RequestCheckTx(tx=tx)) for tx in repeats]

    async def both() -> list[abci_pb2.ResponseCheckTx]:
        executing = asyncio.ensure_future(stepwise.finalize(1, block))
        await asyncio.sleep(0)  # the block is now between two steps
        answers = stepwise.app.check_tx_batch([abci_pb2.RequestCheckTx(tx=tx) for tx in repeats])
        assert inspect.isawaitable(answers)
        await executing
        return await answers

    answers = asyncio.run(both())
    assert answers == expected
    assert [a.code for a in answers] == [31, 31, 31, 0]


def proposal(node: Node, height: int, txs: list[bytes]) -> abci_pb2.RequestProcessProposal:
    """An honest proposal at `height`, right after the node's last commit, carrying `txs`,
    with the header fields CometBFT fills in."""
    params = get_params(node.app._mempool.state)
    block = prepare_block_order(txs, chain_id=CHAIN_ID, height=height,
                                prev_app_hash=node.info().last_block_app_hash,
                                iterations=params.vdf_iterations,
                                discriminant_bits=params.vdf_discriminant_bits).txs()
    request = abci_pb2.RequestProcessProposal(
        txs=block, height=height, hash=hashlib.sha256(b"".join(block)).digest(),
        proposer_address=bytes(20), next_validators_hash=bytes(32))
    request.time.seconds = 1_700_000_000 + height
    return request


def decided(block: abci_pb2.RequestProcessProposal) -> abci_pb2.RequestFinalizeBlock:
    """The FinalizeBlock request of `block` once decided (CometBFT v0.38 state/execution.go
    fills both from the same block)."""
    return abci_pb2.RequestFinalizeBlock(
        txs=block.txs, height=block.height, hash=block.hash, time=block.time,
        proposer_address=block.proposer_address, decided_last_commit=block.proposed_last_commit,
        misbehavior=block.misbehavior, next_validators_hash=block.next_validators_hash)


async def answered(answer: Any) -> Any:
    return await answer if inspect.isawaitable(answer) else answer


async def loop_turns(count: int = 50) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


@pytest.fixture
def optimistic_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Node, Node]]:
    """(reference, node): `node` is an ABCI-server node (`offload`) executing in steps of 2
    txs, `reference` executes at FinalizeBlock; both past block 1."""
    monkeypatch.setattr(chain.app, "_FINALIZE_STEP", 2)
    reference, node = Node(tmp_path / "reference"), Node(tmp_path / "node")
    node.app = OptioApp(node.store, check_invariants=True, offload=True)
    for n in (reference, node):
        n.init_chain()
        n.block(1, [])
    yield reference, node
    for n in (reference, node):
        n.close()


BLOCK_2 = [send(0, 1, 5), send(1, 1, 10**15), send(2, 1, 7), send(0, 2, 9), send(0, 2, 1)]


@pytest.mark.parametrize("votes", ["slow", "fast"])
def test_finalize_block_of_an_accepted_block_answers_with_its_optimistic_execution(
    optimistic_pair: tuple[Node, Node], votes: str,
) -> None:
    """The block starts executing at its ProcessProposal. When the votes take long, the
    execution is over by FinalizeBlock, which answers at once; when they come fast,
    FinalizeBlock waits for the rest of it. Either way: the reference's answer and app hash."""
    reference, node = optimistic_pair
    block = proposal(node, 2, BLOCK_2)
    expected = reference.app.finalize_block(decided(block))

    async def scenario() -> abci_pb2.ResponseFinalizeBlock:
        assert (await answered(node.app.process_proposal(block))).status == ACCEPT
        await loop_turns(50 if votes == "slow" else 1)
        answer = node.app.finalize_block(decided(block))
        assert inspect.isawaitable(answer) == (votes == "fast")
        return await answered(answer)

    answer = asyncio.run(scenario())
    assert answer == expected
    # In VDF order: one of the two txs with nonce 2 is a replay, the 10**15 one overspends.
    assert sorted(r.code for r in answer.tx_results) == [0, 0, 0, 0, 31, 35]
    for n in (reference, node):
        n.app.commit(abci_pb2.RequestCommit())
    assert node.info().last_block_app_hash == reference.info().last_block_app_hash


def test_a_block_decided_in_a_later_round_discards_the_optimistic_execution(
    optimistic_pair: tuple[Node, Node],
) -> None:
    """Round 0's block is accepted and executes; round 1 decides another one. Nothing of the
    first reaches the node: same answer and app hash as the reference, and the check state
    is the decided block's."""
    reference, node = optimistic_pair
    round_0 = proposal(node, 2, [send(0, 1, 5), send(1, 1, 6)])
    round_1 = proposal(node, 2, [send(2, 1, 7)])
    expected = reference.app.finalize_block(decided(round_1))

    async def scenario(settle: int) -> abci_pb2.ResponseFinalizeBlock:
        await answered(node.app.process_proposal(round_0))
        await loop_turns(settle)
        return await answered(node.app.finalize_block(decided(round_1)))

    assert asyncio.run(scenario(settle=1)) == expected
    for n in (reference, node):
        n.app.commit(abci_pb2.RequestCommit())
    assert node.info().last_block_app_hash == reference.info().last_block_app_hash
    # Block 3: round 0 executes to the end before round 1's block is decided.
    round_0, round_1 = proposal(node, 3, [send(0, 1, 5)]), proposal(node, 3, [send(1, 1, 6)])
    expected = reference.app.finalize_block(decided(round_1))
    assert asyncio.run(scenario(settle=50)) == expected
    for n in (reference, node):
        n.app.commit(abci_pb2.RequestCommit())
    assert node.info().last_block_app_hash == reference.info().last_block_app_hash
    # The nonce of round 0's tx is free again on the node, as on the reference.
    again = abci_pb2.RequestCheckTx(tx=send(0, 1, 5))
    assert node.app.check_tx(again).code == reference.app.check_tx(again).code == 0


def test_checktx_after_an_optimistic_execution_is_checked_against_the_block(
    optimistic_pair: tuple[Node, Node],
) -> None:
    """CheckTx arriving while a block executes ahead waits for the execution, then checks
    against the block's outcome, as a node that already finalized the block would (the
    mempool's replay runs as soon as the execution ends: `MempoolMirror.speculate`);
    FinalizeBlock then answers as the reference, and the recheck after the commit gives the
    reference's answers too."""
    reference, node = optimistic_pair
    block = proposal(node, 2, BLOCK_2)
    arriving = [send(0, 1, 5), send(0, 3, 1), send(1, 2, 10**15), send(2, 2, 4)]
    requests = [abci_pb2.RequestCheckTx(tx=tx) for tx in arriving]
    expected_answer = reference.app.finalize_block(decided(block))
    expected_checks = [reference.app.check_tx(r) for r in requests]
    reference.app.commit(abci_pb2.RequestCommit())
    rechecks = [abci_pb2.RequestCheckTx(tx=tx, type=abci_pb2.RECHECK) for tx in arriving]
    expected_rechecks = [reference.app.check_tx(r) for r in rechecks]

    async def scenario() -> tuple[list[abci_pb2.ResponseCheckTx], abci_pb2.ResponseFinalizeBlock]:
        await answered(node.app.process_proposal(block))
        await loop_turns(1)  # the execution is under way (in steps of 2 txs)
        checks = await answered(node.app.check_tx_batch(requests))
        return checks, await answered(node.app.finalize_block(decided(block)))

    checks, answer = asyncio.run(scenario())
    assert checks == expected_checks
    # Nonce 1 of sender 0 is the block's; sender 1 has no funds for 10**15.
    assert [a.code for a in checks] == [31, 0, 35, 0]
    assert answer == expected_answer
    node.app.commit(abci_pb2.RequestCommit())
    assert [node.app.check_tx(r) for r in rechecks] == expected_rechecks
    assert node.info().last_block_app_hash == reference.info().last_block_app_hash


def test_checktx_after_a_later_round_proposal_is_checked_without_the_dropped_block(
    optimistic_pair: tuple[Node, Node],
) -> None:
    """Round 0's block executes ahead and the mempool replays onto it; a tx arrives and is
    checked against it. Round 1's proposal drops that speculation: the next CheckTx finds
    the state before the block again, with the arrived tx on it, and FinalizeBlock of round
    1's block leaves the check state the reference has."""
    reference, node = optimistic_pair
    round_0 = proposal(node, 2, [send(0, 1, 5)])
    round_1 = proposal(node, 2, [send(1, 1, 6)])
    arrived, after = send(2, 1, 7), send(0, 1, 5)

    async def scenario() -> list[int]:
        await answered(node.app.process_proposal(round_0))
        await loop_turns(50)
        codes = [(await answered(node.app.check_tx_batch([abci_pb2.RequestCheckTx(tx=raw)])))[0].code
                 for raw in (after, arrived)]
        await answered(node.app.process_proposal(round_1))
        codes.append(node.app.check_tx(abci_pb2.RequestCheckTx(tx=after)).code)
        codes.append(node.app.check_tx(abci_pb2.RequestCheckTx(tx=send(2, 1, 8))).code)
        await answered(node.app.finalize_block(decided(round_1)))
        return codes

    # Against round 0's block nonce 1 of sender 0 is used; without it, it is free, and
    # nonce 1 of sender 2 is the arrived tx's.
    assert asyncio.run(scenario()) == [31, 0, 0, 31]
    reference.app.check_tx(abci_pb2.RequestCheckTx(tx=arrived))
    reference.app.check_tx(abci_pb2.RequestCheckTx(tx=after))
    reference.app.finalize_block(decided(round_1))
    for n in (reference, node):
        n.app.commit(abci_pb2.RequestCommit())
    rechecks = [abci_pb2.RequestCheckTx(tx=raw, type=abci_pb2.RECHECK) for raw in (arrived, after)]
    assert [node.app.check_tx(r) for r in rechecks] == [reference.app.check_tx(r) for r in rechecks]
    assert node.info().last_block_app_hash == reference.info().last_block_app_hash


def test_balance_query_carries_a_proof_against_the_committed_app_hash(nodes: list[Node]) -> None:
    node = nodes[0]
    node.init_chain()
    app_hash = node.block(1, [send(0, 1, 500)])
    answer = node.app.query(abci_pb2.RequestQuery(path=f"/balance/{ADDRESSES[3]}/uusd",
                                                  prove=True))
    assert answer.code == 0 and answer.value == b"500" and answer.height == 1
    op = answer.proof_ops.ops[0]
    assert verify(app_hash, op.key, (500).to_bytes(8, "big"), op.data)
    assert not verify(app_hash, op.key, (501).to_bytes(8, "big"), op.data)


def test_bad_queries_get_numbered_errors(nodes: list[Node]) -> None:
    node = nodes[0]
    node.init_chain()
    node.block(1, [])
    cases = [("/nope", 0, 100), ("/balance/notanaddress/uusd", 0, 101),
             (f"/balance/{ADDRESSES[0]}/ubtc", 0, 101), ("/params", 7, 102)]
    for path, height, code in cases:
        answer = node.app.query(abci_pb2.RequestQuery(path=path, height=height))
        assert answer.code == code and answer.codespace == "optio", path


def test_a_cometbft_speaking_another_abci_version_stops_the_node(nodes: list[Node]) -> None:
    with pytest.raises(RuntimeError, match="ABCI 0.17.0"):
        nodes[0].app.info(abci_pb2.RequestInfo(abci_version="0.17.0"))


def test_invariants_query_reports_every_invariant_at_one_height(nodes: list[Node]) -> None:
    node = nodes[0]
    node.init_chain()
    node.block(1, [send(0, 1, 500)])
    report = json.loads(node.app.query(abci_pb2.RequestQuery(path="/invariants")).value)
    assert report == {"height": "1", "supply_conserved": True, "staking": "ok"}


def _unbacked_coin(ws: Any, *_: Any) -> list[Any]:
    """A begin-block step with a bug: one uusd credited without minting it."""
    key = balance_key(parse_address(ADDRESSES[0]), "uusd")
    ws.set(key, encode_u64(decode_u64(ws.get(key)) + 1))
    return []


def test_a_block_that_creates_coins_stops_the_node(
        nodes: list[Node], monkeypatch: pytest.MonkeyPatch) -> None:
    node = nodes[0]
    node.init_chain()
    node.block(1, [send(0, 1, 5)])
    monkeypatch.setattr(chain.app, "process_staking_begin_block", _unbacked_coin)
    with pytest.raises(RuntimeError, match="at height 2: supply not conserved"):
        node.finalize(2, [send(1, 1, 5)])


def test_a_restarted_node_checks_the_committed_supply_in_full_once(nodes: list[Node]) -> None:
    node = nodes[0]
    node.init_chain()
    node.block(1, [send(0, 1, 5)])
    broken = node.store.working()
    _unbacked_coin(broken)
    node.store.commit(broken, 2)  # behind the app's back, as a bug in an older version might
    node.restart()
    with pytest.raises(RuntimeError, match="before height 3: the committed state does not"):
        node.finalize(3, [send(1, 1, 5)])
