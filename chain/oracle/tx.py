"""The oracle injected tx: built by the proposer from CometBFT's extended commit of the
previous height, checked by every validator, turned into aggregation input in FinalizeBlock.

Envelope: chain/ordering.py's injected-tx envelope around `InjectedTx{oracle}`
(chain/proto/injected.proto); block layout `[oracle tx] [ordering tx] [user txs]`.

`check_oracle_tx` is the whole ProcessProposal check of the oracle tx, a pure function of the
tx, the chain id, the height and the validator set of the previous height (from committed
state):

1. canonical encoding, and the votes name distinct members of the validator set of H with the
   power the app holds for them;
2. a vote with flag COMMIT carries an extension that decodes (`decode_extension`) and an
   ed25519 extension signature over CometBFT's sign bytes for (extension, H, round, chain id);
   any other vote carries neither;
3. the COMMIT votes hold more than 2/3 of the set's power;
4. every validator the block's own last commit (`proposed_last_commit`) counts as COMMIT is a
   COMMIT vote here too, so a proposer cannot drop chosen observations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from abci.proto import abci_pb2, types_pb2
from chain.oracle.canonical import is_valid_extension_signature
from chain.oracle.extension import ExtensionError, decode_extension
from chain.ordering import MalformedInjectedTx, decode_injected_tx, encode_injected_tx
from chain.proto import injected_pb2, oracle_pb2
from state.oracle import OracleParams, Vote
from state.validators import Validator

_COMMIT = types_pb2.BLOCK_ID_FLAG_COMMIT


class OracleTxError(ValueError):
    """The oracle tx is not what an honest proposer builds: the block is rejected."""


@dataclass(frozen=True, slots=True)
class CheckedOracleTx:
    votes: tuple[Vote, ...]
    total_power: int


def build_oracle_tx(commit: abci_pb2.ExtendedCommitInfo) -> bytes:
    """The oracle tx carrying `commit` (RequestPrepareProposal.local_last_commit) verbatim."""
    oracle = oracle_pb2.OracleTx(round=commit.round, votes=[
        oracle_pb2.OracleVote(
            validator_address=vote.validator.address,
            power=vote.validator.power,
            vote_extension=vote.vote_extension,
            extension_signature=vote.extension_signature,
            block_id_flag=vote.block_id_flag,
        )
        for vote in commit.votes
    ])
    return encode_injected_tx(injected_pb2.InjectedTx(oracle=oracle))


def decode_oracle_tx(raw: bytes) -> oracle_pb2.OracleTx | None:
    """The OracleTx of `raw`, None if `raw` is not a canonical injected oracle tx."""
    try:
        message = decode_injected_tx(raw)
    except MalformedInjectedTx:
        return None
    return message.oracle if message.WhichOneof("kind") == "oracle" else None


def check_oracle_tx(
    oracle: oracle_pb2.OracleTx,
    *,
    chain_id: str,
    height: int,
    validators: Sequence[Validator],
    params: OracleParams,
    proposed_last_commit: abci_pb2.CommitInfo | None = None,
) -> CheckedOracleTx:
    """Votes for the aggregate of the commit of `height` (the block's height − 1); raises
    OracleTxError on any defect (module docstring)."""
    members = {v.address: v for v in validators}
    total = sum(v.power for v in validators)
    seen: set[bytes] = set()
    votes: list[Vote] = []
    committed = 0
    n = len(params.underlyings)
    for index, vote in enumerate(oracle.votes):
        member = members.get(vote.validator_address)
        if member is None or vote.validator_address in seen:
            raise OracleTxError(f"vote {index}: not a (distinct) validator of height {height}")
        seen.add(vote.validator_address)
        if vote.power != member.power:
            raise OracleTxError(f"vote {index}: power {vote.power}, the set says {member.power}")
        if vote.block_id_flag != _COMMIT:
            if vote.vote_extension or vote.extension_signature:
                raise OracleTxError(f"vote {index}: extension on a vote that is not COMMIT")
            continue
        try:
            observation = decode_extension(vote.vote_extension, n_underlyings=n,
                                           max_bytes=params.max_extension_bytes)
        except ExtensionError as exc:
            raise OracleTxError(f"vote {index}: {exc}") from None
        if not is_valid_extension_signature(member.pub_key, vote.extension_signature,
                                            vote.vote_extension, height, oracle.round, chain_id):
            raise OracleTxError(f"vote {index}: bad extension signature")
        committed += member.power
        votes.append(Vote(member.power, observation))
    if committed * 3 <= total * 2:
        raise OracleTxError(f"extensions carry {committed} of {total} power, need > 2/3")
    if proposed_last_commit is not None:
        flags = {v.validator_address: v.block_id_flag for v in oracle.votes}
        if proposed_last_commit.round != oracle.round:
            raise OracleTxError("round differs from the block's last commit")
        for vote in proposed_last_commit.votes:
            if vote.block_id_flag == _COMMIT and flags.get(vote.validator.address) != _COMMIT:
                raise OracleTxError("a vote of the block's last commit is missing")
    return CheckedOracleTx(tuple(votes), total)
