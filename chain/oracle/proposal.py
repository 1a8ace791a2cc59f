"""Assembling and checking a proposal's injected txs: `[oracle tx] [ordering tx] [user txs in
VDF order]` (DESIGN §2). `chain/app.py` calls these with what it knows from the last committed
state (`ProposalContext`); the ordering rules themselves are chain/ordering.py's and the oracle
tx rules chain/oracle/tx.py's.

ProcessProposal's checks (`check_proposal`), any failure rejecting the block:

1. when vote extensions were on at height − 1, the first tx is an oracle tx that passes
   `check_oracle_tx` against the validator set of height − 1; otherwise no oracle tx at all;
2. no other oracle tx anywhere (a second, "fake" one is a rejection, not ignored);
3. `check_block_order`: injected txs first and canonical, exactly one ordering tx last among
   them, its T equal to the chain parameter, its VDF proof valid for the seed recomputed from
   the user txs and the previous app hash, and the user txs in the order its output gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from abci.proto import abci_pb2
from chain.oracle.tx import (
    CheckedOracleTx,
    OracleTxError,
    build_oracle_tx,
    check_oracle_tx,
    decode_oracle_tx,
)
from chain.ordering import (
    BlockOrder,
    InvalidBlockOrder,
    MalformedInjectedTx,
    ProveJob,
    check_block_order,
    decode_injected_tx,
    decode_ordering_tx,
    compute_block_seed,
    ordering_tx_size,
    prepare_block_order,
    split_block,
)
from state.beacon import Beacon
from state.oracle import OracleParams
from state.validators import Validator


@dataclass(frozen=True, slots=True)
class ProposalContext:
    """Everything a proposal at `height` is built and checked against (committed state)."""

    chain_id: str
    height: int
    prev_app_hash: bytes
    vdf_iterations: int
    vdf_discriminant_bits: int
    oracle_params: OracleParams
    oracle_required: bool
    validators: tuple[Validator, ...]
    """The validator set of height − 1, whose commit the oracle tx carries."""


class ProposalRejected(Exception):
    """The proposal breaks a rule; `kind` is a stable label for logs and tests."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


def block_bytes(tx_len: int) -> int:
    """Bytes a tx of `tx_len` bytes takes from `max_tx_bytes`: CometBFT counts each tx as an
    element of the block's protobuf `Data.txs` (tag, length varint, bytes), and stops with a
    consensus failure if PrepareProposal answers more (v0.38 `Txs.Validate`)."""
    return 1 + max(1, (tx_len.bit_length() + 6) // 7) + tx_len


def injected_budget(ctx: ProposalContext, local_last_commit: abci_pb2.ExtendedCommitInfo
                    ) -> tuple[list[bytes], int]:
    """(the oracle tx or nothing, bytes the injected txs take from `max_tx_bytes`)."""
    oracle = [build_oracle_tx(local_last_commit)] if ctx.oracle_required else []
    return oracle, (sum(block_bytes(len(tx)) for tx in oracle)
                    + block_bytes(ordering_tx_size(ctx.vdf_iterations)))


def build_proposal(
    ctx: ProposalContext,
    oracle: list[bytes],
    user_txs: Sequence[bytes],
    *,
    deadline_s: float | None,
    empty_job: ProveJob | None = None,
    started: ProveJob | None = None,
) -> list[bytes]:
    """The block's txs: the oracle tx (if any), then the VDF ordering of `user_txs` (already
    selected within the budget). A VDF that misses `deadline_s` yields a block without user
    txs rather than no block. `started`: see `prepare_block_order`."""
    order = prepare_block_order(
        user_txs, chain_id=ctx.chain_id, height=ctx.height, prev_app_hash=ctx.prev_app_hash,
        iterations=ctx.vdf_iterations, discriminant_bits=ctx.vdf_discriminant_bits,
        deadline_s=deadline_s, empty_job=empty_job, started=started)
    return [*oracle, *order.txs()]


def check_proposal(
    ctx: ProposalContext,
    txs: Sequence[bytes],
    proposed_last_commit: abci_pb2.CommitInfo | None,
) -> tuple[CheckedOracleTx | None, BlockOrder]:
    """The verified oracle votes and block order of a proposal; `ProposalRejected` otherwise."""
    checked: CheckedOracleTx | None = None
    start = 0
    if ctx.oracle_required:
        oracle = decode_oracle_tx(txs[0]) if txs else None
        if oracle is None:
            raise ProposalRejected("missing_oracle_tx",
                                   "the block does not start with an oracle tx")
        try:
            checked = check_oracle_tx(
                oracle, chain_id=ctx.chain_id, height=ctx.height - 1, validators=ctx.validators,
                params=ctx.oracle_params, proposed_last_commit=proposed_last_commit)
        except OracleTxError as exc:
            raise ProposalRejected("invalid_oracle_tx", str(exc)) from None
        start = 1
    try:
        injected, _ = split_block(txs)
        for index in range(start, len(injected)):
            try:
                kind = decode_injected_tx(injected[index]).WhichOneof("kind")
            except MalformedInjectedTx:
                continue  # reported by check_block_order
            if kind == "oracle":
                raise ProposalRejected("unexpected_oracle_tx", f"oracle tx at index {index}")
        order = check_block_order(
            txs, chain_id=ctx.chain_id, height=ctx.height, prev_app_hash=ctx.prev_app_hash,
            iterations=ctx.vdf_iterations, discriminant_bits=ctx.vdf_discriminant_bits)
    except InvalidBlockOrder as exc:
        raise ProposalRejected(exc.kind, exc.reason) from None
    return checked, order


def finalized_beacon(ctx: ProposalContext, txs: Sequence[bytes]) -> Beacon | None:
    """The beacon of a finalized block (its ordering tx and recomputed seed), None if the
    block carries no ordering tx (only possible before the layout was required)."""
    injected, user = split_block(txs)
    if not injected:
        return None
    try:
        ordering = decode_ordering_tx(injected[-1])
    except MalformedInjectedTx:
        return None
    seed = compute_block_seed(ctx.chain_id, ctx.height, ctx.prev_app_hash, user)
    return Beacon(height=ctx.height, seed=seed, y=ordering.y, iterations=ordering.iterations)
