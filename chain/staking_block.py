"""Begin-block staking work, adapted from the ABCI request: block rewards for the last commit,
evidence (slash + tombstone + jail), then liveness (missed blocks). Called once per
FinalizeBlock from `OptioApp._begin_block`, before the block's txs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from abci.proto import abci_pb2, types_pb2
from state.distribution import process_block_rewards
from state.events import Event
from state.params import get_params
from state.slashing import CommitVote, Evidence, process_evidence, process_liveness

if TYPE_CHECKING:
    from state.store import WorkingState

_ABSENT = (types_pb2.BLOCK_ID_FLAG_ABSENT, types_pb2.BLOCK_ID_FLAG_UNKNOWN)


def process_staking_begin_block(
    ws: WorkingState, req: abci_pb2.RequestFinalizeBlock
) -> list[Event]:
    """Rewards, evidence and liveness for block `req.height`; their events."""
    params = get_params(ws)
    votes = [
        CommitVote(address=v.validator.address, power=v.validator.power,
                   absent=v.block_id_flag in _ABSENT,
                   signed=v.block_id_flag == types_pb2.BLOCK_ID_FLAG_COMMIT)
        for v in req.decided_last_commit.votes
    ]
    evidence = [
        Evidence(kind=m.type, address=m.validator.address, power=m.validator.power,
                 height=m.height)
        for m in req.misbehavior
    ]
    events: list[Event] = process_block_rewards(ws, votes, req.proposer_address, params)
    events += process_evidence(ws, evidence, req.height, params)
    events += process_liveness(ws, votes, req.height, params)
    return events
