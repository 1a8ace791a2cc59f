"""Block rewards: inflation plus collected fees, split among the validators that signed.

At the start of each block (before its txs) the rewards of the previous block are allocated,
in each denom separately:

1. total = (for uopt) `inflation_uopt_per_block` newly minted + the uopt fee pool,
   (for uusd) the uusd fee pool — all moved into the rewards pool;
2. the proposer of this block (which carried the commit) first gets
   ⌊total × proposer_bonus_ppm / 10^6⌋ when it is a staked signer;
3. the rest goes to the staked validators that voted for the last block (BlockIDFlag COMMIT),
   ⌊rest × power / signed power⌋ each;
4. within a validator, ⌊amount × commission_ppm / 10^6⌋ is the operator's commission, and the
   remainder raises its reward-per-share by ⌊remainder × REWARD_SCALE / shares⌋
   (state/staking.py pays delegators from it, rounding down).

Every round-down leaves its remainder in the rewards pool as dust, so the pool always covers
what is owed. When no staked validator signed (a chain of fixed genesis validators), nothing
is minted and the fee pool stays where it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from state.accounts import get_supply, mint_coins, take_fee_pool
from state.denoms import DENOMS, MAX_AMOUNT, UOPT, UUSD, Coin
from state.events import Event
from state.params import Params
from state.slashing import CommitVote
from state.staking import (
    PPM,
    REWARD_SCALE,
    REWARDS_POOL_ID,
    ValidatorRecord,
    get_operator_by_cons_address,
    get_validator,
    set_validator,
)

if TYPE_CHECKING:
    from state.store import WorkingState


def compute_allocation(
    total: int, powers: Sequence[int], proposer_index: int | None, bonus_ppm: int
) -> list[int]:
    """Each signer's part of `total` (steps 2-3 of the module docstring); sums to ≤ total."""
    bonus = total * bonus_ppm // PPM if proposer_index is not None else 0
    rest = total - bonus
    signed_power = sum(powers)
    parts = [rest * p // signed_power for p in powers]
    if proposer_index is not None:
        parts[proposer_index] += bonus
    return parts


def allocate_to_validator(record: ValidatorRecord, denom_index: int, amount: int,
                          ) -> ValidatorRecord:
    """Credit `amount` to a validator: commission to its operator, the rest per share."""
    commission = amount * record.commission_ppm // PPM
    to_delegators = amount - commission
    if record.shares == 0:
        commission, to_delegators = amount, 0
    rps = list(record.reward_per_share)
    rps[denom_index] += to_delegators * REWARD_SCALE // record.shares if to_delegators else 0
    accrued = list(record.commission_accrued)
    accrued[denom_index] += commission
    return replace(record, reward_per_share=tuple(rps), commission_accrued=tuple(accrued))


def process_block_rewards(
    ws: WorkingState, votes: Sequence[CommitVote], proposer: bytes, params: Params
) -> list[Event]:
    """Mint inflation, collect the fee pools and allocate them to the staked signers."""
    signers: list[tuple[bytes, bytes, int]] = []
    for vote in sorted(votes, key=lambda v: v.address):
        operator = get_operator_by_cons_address(ws, vote.address) if vote.signed else None
        if operator is not None and vote.power > 0:
            signers.append((vote.address, operator, vote.power))
    if not signers:
        return []
    minted = min(params.inflation_uopt_per_block, MAX_AMOUNT - get_supply(ws, UOPT))
    if minted:
        mint_coins(ws, REWARDS_POOL_ID, UOPT, minted)
    totals = {UOPT: minted + take_fee_pool(ws, UOPT, REWARDS_POOL_ID),
              UUSD: take_fee_pool(ws, UUSD, REWARDS_POOL_ID)}
    proposer_index = next((i for i, s in enumerate(signers) if s[0] == proposer), None)
    powers = [power for _, _, power in signers]
    for denom_index, denom in enumerate(DENOMS):
        if not totals[denom]:
            continue
        parts = compute_allocation(totals[denom], powers, proposer_index,
                                   params.proposer_bonus_ppm)
        for (_, operator, _), part in zip(signers, parts):
            record = get_validator(ws, operator)
            if record is not None and part:
                set_validator(ws, allocate_to_validator(record, denom_index, part))
    return [Event("rewards", tuple(
        (denom, str(Coin(denom, totals[denom]))) for denom in DENOMS) + (
        ("signers", str(len(signers))),))]
