"""An in-process chain for staking tests: OptioApp over a temporary store, driven block by block
the way CometBFT drives it (last commit votes, evidence, block time), with every invariant
checked after each block."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from abci.proto import abci_pb2, types_pb2
from chain.app import OptioApp
from chain.tx import build_msgs_tx, build_send_msg, build_staking_msg, public_key_bytes, signer_address
from genesis.presets import localnet_app_genesis
from genesis.schema import AppGenesis
from genesis.validators import with_genesis_validators
from state.params import Params
from state.store import Store, WorkingState
from state.validators import Validator, get_validator_set

CHAIN_ID = "optio-staking"
SECOND = 1_000_000_000
GENESIS_TIME_S = 1_700_000_000
COMMIT = types_pb2.BLOCK_ID_FLAG_COMMIT
ABSENT = types_pb2.BLOCK_ID_FLAG_ABSENT


def account_key(i: int) -> bytes:
    return bytes([i]) * 32


def consensus_key(i: int) -> bytes:
    return bytes([100 + i]) * 32


def address(i: int) -> str:
    return signer_address(account_key(i))


def cons_pub(i: int) -> bytes:
    return public_key_bytes(consensus_key(i))


class Chain:
    """A single node; accounts 0..n-1 are funded, the first `validators` of them validate."""

    def __init__(self, path: Path, *, validators: int = 3, accounts: int = 6,
                 params: Params | None = None, fixed: bool = False,
                 self_bond: int = 100 * 10**6, app_genesis: AppGenesis | None = None) -> None:
        self.path = path
        self.store = Store(path)
        self.app = OptioApp(self.store, check_invariants=True)
        self.height = 0
        self.time_s = GENESIS_TIME_S
        self.nonces: dict[int, int] = {}
        offered: list[abci_pb2.ValidatorUpdate] = []
        if app_genesis is not None:
            pass
        elif fixed:
            app_genesis = localnet_app_genesis([address(i) for i in range(accounts)], params=params)
            from abci.proto import crypto_pb2
            offered = [abci_pb2.ValidatorUpdate(pub_key=crypto_pb2.PublicKey(ed25519=cons_pub(i)),
                                                power=10) for i in range(validators)]
        else:
            app_genesis = with_genesis_validators(
                localnet_app_genesis([address(i) for i in range(accounts)], params=params),
                [(address(i), cons_pub(i)) for i in range(validators)],
                self_bond=self_bond)
        self.init_request = abci_pb2.RequestInitChain(
            chain_id=CHAIN_ID, initial_height=1, validators=offered,
            app_state_bytes=json.dumps(app_genesis.to_json()).encode())
        self.init = self.app.init_chain(self.init_request)
        self.absent: set[bytes] = set()
        self.last_response = abci_pb2.ResponseFinalizeBlock()

    @property
    def ws(self) -> WorkingState:
        """The latest state: InitChain's before block 1 is committed, else the committed one."""
        pending = self.app._pending  # noqa: SLF001 - the genesis state lives only there
        return pending if pending is not None else self.store.working()

    def validator_set(self, height: int) -> tuple[Validator, ...]:
        return get_validator_set(self.ws, height)

    def tx(self, signer: int, messages: Sequence[Any], fee: int = 100) -> bytes:
        nonce = self.nonces.get(signer, 0) + 1
        self.nonces[signer] = nonce
        return build_msgs_tx(account_key(signer), list(messages), chain_id=CHAIN_ID,
                             nonce=nonce, fee=fee)

    def staking(self, signer: int, kind: str, **fields: Any) -> bytes:
        return self.tx(signer, [build_staking_msg(kind, **fields)])

    def send(self, signer: int, to: str, amount: int, denom: str = "uusd") -> bytes:
        return self.tx(signer, [build_send_msg(address(signer), to, amount, denom)])

    def check(self, raw: bytes) -> abci_pb2.ResponseCheckTx:
        return self.app.check_tx(abci_pb2.RequestCheckTx(tx=raw))

    def block(self, txs: Sequence[bytes] = (), *, seconds: int = 5,
              misbehavior: Sequence[abci_pb2.Misbehavior] = (),
              proposer: bytes = b"") -> abci_pb2.ResponseFinalizeBlock:
        """Finalize and commit the next block; the last commit has every member of the
        previous height's set voting, except addresses in `self.absent`."""
        self.height += 1
        self.time_s += seconds
        votes = []
        if self.height > 1:
            for v in get_validator_set(self.ws, self.height - 1):
                flag = ABSENT if v.address in self.absent else COMMIT
                votes.append(abci_pb2.VoteInfo(
                    validator=abci_pb2.Validator(address=v.address, power=v.power),
                    block_id_flag=flag))
        req = abci_pb2.RequestFinalizeBlock(
            height=self.height, txs=list(txs), misbehavior=list(misbehavior),
            decided_last_commit=abci_pb2.CommitInfo(votes=votes), proposer_address=proposer)
        req.time.seconds = self.time_s
        response = self.app.finalize_block(req)
        self.app.commit(abci_pb2.RequestCommit())
        self.last_response = response
        return response

    def run(self, blocks: int, **kwargs: Any) -> None:
        for _ in range(blocks):
            self.block(**kwargs)

    def restart(self) -> None:
        """A new process over the same database (committed state only)."""
        path = self.path
        self.store.close()
        self.store = Store(path)
        self.app = OptioApp(self.store, check_invariants=True)
        if self.store.last_height == 0:  # as CometBFT does: nothing committed, InitChain again
            self.app.init_chain(self.init_request)

    def close(self) -> None:
        self.store.close()
