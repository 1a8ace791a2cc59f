"""The mempool mirror (chain/mempool.py) against the plain recheck it replaces: every CheckTx
and RECHECK answer, and the check state left, must be what CometBFT's v0.38 mempool would get
from an app that rechecks every tx for real against a fresh check state after each commit.
Driven in-process (an in-process driver, not a chain test), with a model of CometBFT's
mempool list, including the cases where the mirror goes off script: txs the mempool dropped
(full, TTL) and no recheck at all."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from abci.proto import abci_pb2
from chain.address import address_from_public_key
from chain.app import OptioApp
from chain.tx import build_send_tx, public_key_bytes
from genesis.presets import localnet_app_genesis
from state.accounts import get_balance, get_fee_pool, get_next_nonce
from state.store import Store

CHAIN_ID = "optio-mempool"
KEYS = [bytes([i]) * 32 for i in range(1, 5)]
ADDRESSES = [address_from_public_key(public_key_bytes(k)) for k in KEYS]
GENESIS = json.dumps(localnet_app_genesis(ADDRESSES[:3]).to_json()).encode()
NEW, RECHECK = abci_pb2.NEW, abci_pb2.RECHECK


def send(sender: int, nonce: int, amount: int, to: int = 3) -> bytes:
    return build_send_tx(KEYS[sender], chain_id=CHAIN_ID, nonce=nonce, to=ADDRESSES[to],
                         amount=amount, denom="uusd", fee=100)


class PlainNode:
    """The same app, but CheckTx as without the mirror: after each commit a fresh check
    state over the committed one, and every recheck a real check."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path)
        self.app = OptioApp(self.store)
        self.app.init_chain(abci_pb2.RequestInitChain(
            chain_id=CHAIN_ID, app_state_bytes=GENESIS, initial_height=1))
        self.state = self.app._mempool.state  # genesis, as the app checks before block 1

    def check(self, raw: bytes) -> abci_pb2.ResponseCheckTx:
        return self.app._check_in(self.state, self.store.last_height + 1, raw)

    def block(self, height: int, txs: list[bytes]) -> None:
        self.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=height, txs=txs))
        self.app.commit(abci_pb2.RequestCommit())
        self.state = self.store.working()


class MirrorNode:
    """The app as CometBFT drives it, with a model of CometBFT's mempool list."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path)
        self.app = OptioApp(self.store)
        self.app.init_chain(abci_pb2.RequestInitChain(
            chain_id=CHAIN_ID, app_state_bytes=GENESIS, initial_height=1))
        self.mempool: list[bytes] = []

    def check(self, raw: bytes, kind: int = NEW) -> abci_pb2.ResponseCheckTx:
        return self.app.check_tx(abci_pb2.RequestCheckTx(tx=raw, type=kind))

    def recheck_as(self, plain: PlainNode, height: int) -> None:
        """CometBFT's recheck after the commit of `height`, every answer compared with the
        plain node's real check; the check states then agree."""
        kept = []
        for raw in self.mempool:
            answer = self.check(raw, RECHECK)
            assert answer == plain.check(raw), f"recheck after height {height}"
            if answer.code == 0:
                kept.append(raw)
        self.mempool = kept
        self.app._mempool.end_recheck()
        assert account_view(self.app._mempool.state) == account_view(plain.state)


def random_tx(rng: random.Random, nonces: list[int]) -> bytes:
    """A transfer that may replay a nonce, skip ahead, or overspend."""
    sender = rng.randrange(3)
    nonce = max(1, nonces[sender] + rng.choice([-1, 0, 0, 0, 1]))
    nonces[sender] = max(nonces[sender], nonce + 1)
    amount = rng.choice([1, 10**6, 10**11, 10**13])  # the last overspends on its own
    return send(sender, nonce, amount, to=rng.randrange(4))


def account_view(state) -> tuple[list[tuple[int, int]], int]:
    """(next nonce, uusd balance) of every account, what the check state decides with, and the
    fee pool the replayed txs add to."""
    return ([(get_next_nonce(state, a), get_balance(state, a, "uusd")) for a in ADDRESSES],
            get_fee_pool(state, "uusd"))


@pytest.mark.parametrize("seed", range(16))
def test_mirror_answers_every_checktx_and_recheck_as_a_plain_recheck(
    tmp_path: Path, seed: int
) -> None:
    """Blocks of random transfers (replays, gaps, overspends); txs arrive before a block and
    between its FinalizeBlock and Commit; now and then the mempool loses a tx before the
    recheck (full, TTL), which sends the mirror off script."""
    rng = random.Random(seed)
    mirror, plain = MirrorNode(tmp_path / "m"), PlainNode(tmp_path / "p")
    nonces = [1, 1, 1]
    for height in range(1, 16):
        for raw in [random_tx(rng, nonces) for _ in range(rng.randrange(0, 10))]:
            answer = mirror.check(raw)
            assert answer == plain.check(raw)
            if answer.code == 0:
                mirror.mempool.append(raw)
        # The proposer takes some of the mempool's txs in any order (the VDF's), and maybe a
        # tx it got elsewhere: what is left may depend on what the block took (a nonce after
        # one in the block, funds from a transfer in it), which the mirror's replay must see.
        block = rng.sample(mirror.mempool, rng.randrange(0, len(mirror.mempool) + 1))
        if rng.random() < 0.3:
            block.append(random_tx(rng, nonces))
        mirror.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=height, txs=block))
        # Txs arriving now are checked against the block's outcome (with no counterpart on
        # the plain node, whose check state is about to be dropped): those accepted join the
        # mempool and are compared at the recheck.
        for raw in [random_tx(rng, nonces) for _ in range(rng.randrange(0, 4))]:
            if mirror.check(raw).code == 0:
                mirror.mempool.append(raw)
        mirror.app.commit(abci_pb2.RequestCommit())
        plain.block(height, block)
        mirror.mempool = [raw for raw in mirror.mempool if raw not in block]
        if mirror.mempool and rng.random() < 0.25:
            del mirror.mempool[rng.randrange(len(mirror.mempool))]
        mirror.recheck_as(plain, height)


@pytest.mark.parametrize("seed", range(16))
def test_speculating_on_a_block_executed_ahead_answers_as_a_plain_recheck(
    tmp_path: Path, seed: int
) -> None:
    """As the test above, with the block executed ahead of its decision (optimistic
    execution) and the mempool replayed onto it at once (`speculate`): txs arriving from
    then on are checked against that replay. Now and then a later round decides another
    block: the speculation is dropped, txs arriving next are checked as without it (compared
    with the plain node), and the decided block is replayed onto at FinalizeBlock."""
    rng = random.Random(seed)
    mirror, plain = MirrorNode(tmp_path / "m"), PlainNode(tmp_path / "p")
    app, pool = mirror.app, mirror.app._mempool
    nonces = [1, 1, 1]

    def executed(height: int, txs: list[bytes]):
        ws = mirror.store.working()
        app._execute(ws, abci_pb2.RequestFinalizeBlock(height=height, txs=txs))
        return ws

    def proposed() -> list[bytes]:
        block = rng.sample(mirror.mempool, rng.randrange(0, len(mirror.mempool) + 1))
        return block + [random_tx(rng, nonces)] if rng.random() < 0.3 else block

    def arrive(count: int, compare: bool) -> None:
        for raw in [random_tx(rng, nonces) for _ in range(count)]:
            answer = mirror.check(raw)
            if compare:
                assert answer == plain.check(raw)
            else:
                plain.check(raw)  # the plain node's check state takes it too, if it passes
            if answer.code == 0:
                mirror.mempool.append(raw)

    # Block 1 executes on InitChain's state at FinalizeBlock (never ahead).
    mirror.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=1, txs=[]))
    mirror.app.commit(abci_pb2.RequestCommit())
    plain.block(1, [])
    for height in range(2, 17):
        arrive(rng.randrange(0, 10), compare=True)
        block = proposed()
        ahead = executed(height, block)
        pool.speculate(ahead, height, block)
        arrive(rng.randrange(0, 4), compare=False)
        if rng.random() < 0.3:  # a later round decides another block
            pool.drop_speculation()
            arrive(rng.randrange(0, 4), compare=True)
            block = proposed()
            ahead = executed(height, block)
        pool.after_block(ahead, height, block)
        arrive(rng.randrange(0, 4), compare=False)
        mirror.store.commit(ahead, height)
        pool.after_commit()
        plain.block(height, block)
        mirror.mempool = [raw for raw in mirror.mempool if raw not in block]
        mirror.recheck_as(plain, height)


def test_a_tx_arriving_between_finalize_and_commit_is_checked_against_the_block(
    tmp_path: Path,
) -> None:
    node = MirrorNode(tmp_path / "m")
    in_block, in_mempool = send(0, 1, 5), send(1, 1, 5)
    assert node.check(in_block).code == 0 and node.check(in_mempool).code == 0
    node.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=1, txs=[in_block]))
    assert node.check(send(0, 1, 6)).code == 31  # nonce 1 is used by the block
    assert node.check(send(1, 1, 6)).code == 31  # and by the tx left in the mempool
    assert node.check(send(0, 2, 6)).code == 0
    node.app.commit(abci_pb2.RequestCommit())
    for raw in (in_mempool, send(0, 2, 6)):
        assert node.check(raw, RECHECK).code == 0
    node.app._mempool.end_recheck()
    assert [get_next_nonce(node.app._mempool.state, a) for a in ADDRESSES[:2]] == [3, 2]


def test_on_script_the_recheck_is_answered_without_checking_again(tmp_path: Path) -> None:
    node = MirrorNode(tmp_path / "m")
    left = [send(1, 1, 5), send(2, 1, 10**13), send(2, 2, 5)]  # the second one overspends
    for raw in [send(0, 1, 5), *left]:
        node.check(raw)
    node.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=1, txs=[send(0, 1, 5)]))
    node.app.commit(abci_pb2.RequestCommit())
    checks = []
    mirror = node.app._mempool
    real_check = mirror._check
    mirror._check = lambda *args: checks.append(args[2]) or real_check(*args)
    assert [node.check(raw, RECHECK).code for raw in left[::2]] == [0, 0]  # as CometBFT kept them
    assert checks == []
    assert node.check(send(1, 2, 5)).code == 0  # the first new tx closes the recheck
    assert checks == [send(1, 2, 5)]


def test_a_decided_block_speculated_on_needs_no_check_until_new_txs(tmp_path: Path) -> None:
    """FinalizeBlock of the block the mempool speculated on adopts the replay made then, and
    the recheck after its commit (the txs left, then the one that arrived meanwhile) is
    answered from it: no tx is checked again."""
    node = MirrorNode(tmp_path / "m")
    node.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=1, txs=[]))
    node.app.commit(abci_pb2.RequestCommit())
    block, left = [send(0, 1, 5)], [send(1, 1, 5), send(2, 1, 10**13), send(2, 2, 5)]
    for raw in block + left:
        node.check(raw)
    mirror = node.app._mempool
    ahead = node.store.working()
    node.app._execute(ahead, abci_pb2.RequestFinalizeBlock(height=2, txs=block))
    mirror.speculate(ahead, 2, block)
    assert node.check(send(0, 1, 6)).code == 31  # against the block: its nonce 1 is used
    assert node.check(send(0, 2, 6)).code == 0
    checks = []
    real_check = mirror._check
    mirror._check = lambda *args: checks.append(args[2]) or real_check(*args)
    mirror.after_block(ahead, 2, block)
    node.store.commit(ahead, 2)
    mirror.after_commit()
    # CometBFT's mempool holds the txs CheckTx accepted (not the overspending one).
    rechecked = [left[0], left[2], send(0, 2, 6)]
    assert [node.check(raw, RECHECK).code for raw in rechecked] == [0, 0, 0]
    mirror.end_recheck()
    assert checks == []


def test_no_speculation_while_the_recheck_may_still_come(tmp_path: Path) -> None:
    """A block executed ahead before the recheck of the last commit has come in full: the
    mirror does not speculate (those recheck answers are still due against the committed
    state), and FinalizeBlock replays as without optimistic execution."""
    node = MirrorNode(tmp_path / "m")
    node.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=1, txs=[]))
    left = send(1, 1, 5)
    node.check(left)
    node.app.commit(abci_pb2.RequestCommit())  # the recheck of `left` is due
    mirror = node.app._mempool
    block = [send(0, 1, 5)]
    ahead = node.store.working()
    node.app._execute(ahead, abci_pb2.RequestFinalizeBlock(height=2, txs=block))
    mirror.speculate(ahead, 2, block)
    assert node.check(left, RECHECK).code == 0  # answered as expected: nothing moved
    assert node.check(send(0, 1, 6)).code == 0  # still against the committed state
    mirror.after_block(ahead, 2, block)
    assert get_next_nonce(mirror.state, ADDRESSES[0]) == 2
    assert get_next_nonce(mirror.state, ADDRESSES[1]) == 2


def test_without_a_recheck_the_check_state_is_the_committed_state(tmp_path: Path) -> None:
    """With CometBFT's `recheck = false` no RECHECK comes: the first new tx closes the recheck
    and finds the committed state (what the app had before the mirror)."""
    node = MirrorNode(tmp_path / "m")
    assert node.check(send(0, 1, 5)).code == 0
    node.app.finalize_block(abci_pb2.RequestFinalizeBlock(height=1, txs=[]))
    node.app.commit(abci_pb2.RequestCommit())
    assert node.check(send(0, 1, 5)).code == 0
    assert get_next_nonce(node.app._mempool.state, ADDRESSES[0]) == 2
