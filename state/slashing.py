"""Slashing: double-sign evidence, liveness (missed blocks) and jail/unjail.

- Evidence (`DUPLICATE_VOTE`, `LIGHT_CLIENT_ATTACK`, as CometBFT reports it in FinalizeBlock):
  slash `slash_fraction_double_sign_ppm` of the stake the validator had at the infraction
  height (its power there × power_reduction), tombstone and jail it for ever.
- Liveness: every vote of the last commit updates a sliding window of `signed_blocks_window`
  bits per validator (bit set = missed; only an ABSENT vote is a miss, a NIL vote was cast).
  Once the window is full, more than `window − ⌊window × min_signed_per_window_ppm / 10^6⌋`
  misses slash `slash_fraction_downtime_ppm`, jail for `downtime_jail_duration_s` of block
  time and restart the window. `process_msg_unjail` ends the jail.

A slash for an infraction at height h (docs/staking.md): the amount is ⌈stake(h) × fraction⌉;
first every unbonding entry and redelegation that left the validator at or after h gives up
⌈its initial amount × fraction⌉ (at most what it has left), then the validator's tokens cover
the rest (at most all of them). Slashed coins are burnt. Fixed (unbacked genesis) validators
have no stake and are not slashed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from chain.address import format_address
from state import keys
from state.accounts import burn_coins
from state.block import NANOS_PER_SECOND
from state.denoms import UOPT, Coin
from state.errors import (
    BelowMinSelfDelegation,
    JailPeriodNotOver,
    UnknownValidator,
    ValidatorNotJailed,
    ValidatorTombstoned,
)
from state.events import Event
from state.params import Params
from state.staking import (
    FAR_FUTURE_NS,
    PPM,
    STAKING_POOL_ID,
    UNBONDING_POOL_ID,
    ValidatorRecord,
    _now_ns,
    compute_slash_round_up,
    compute_tokens_round_down,
    get_delegation,
    get_operator_by_cons_address,
    get_redelegations_from,
    get_self_bond,
    get_unbonding_entries,
    get_validator,
    set_validator,
    settle_rewards,
)

if TYPE_CHECKING:
    from chain.tx import Unjail
    from state.store import WorkingState

DUPLICATE_VOTE: Final = 1
LIGHT_CLIENT_ATTACK: Final = 2
EVIDENCE_NAMES: Final = {DUPLICATE_VOTE: "duplicate_vote", LIGHT_CLIENT_ATTACK: "light_client_attack"}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One misbehaviour CometBFT verified and put in a block."""

    kind: int
    address: bytes
    """Consensus address of the offender."""
    power: int
    """Its voting power at the infraction height."""
    height: int


@dataclass(frozen=True, slots=True)
class CommitVote:
    """One validator's entry in the last commit."""

    address: bytes
    power: int
    absent: bool
    """No vote at all (BlockIDFlag ABSENT): counts as a missed block."""
    signed: bool
    """Voted for the block (BlockIDFlag COMMIT): earns rewards."""


@dataclass(frozen=True, slots=True)
class SigningInfo:
    """Liveness record of one validator (by consensus address)."""

    counted: int = 0
    """Blocks counted since the window (re)started."""
    missed: int = 0
    """Set bits of `bitmap`."""
    bitmap: int = 0
    """Bit (counted mod window) set = that block was missed."""

    def encode(self) -> bytes:
        return json.dumps([self.counted, self.missed, self.bitmap], separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> SigningInfo:
        counted, missed, bitmap = json.loads(raw)
        return cls(counted, missed, bitmap)


def get_signing_info(ws: WorkingState, cons_address: bytes) -> SigningInfo:
    raw = ws.get(keys.signing_info_key(cons_address))
    return SigningInfo() if raw is None else SigningInfo.decode(raw)


def compute_max_missed(params: Params) -> int:
    """Misses allowed in a full window: window − ⌊window × min_signed_ppm / 10^6⌋."""
    window = params.signed_blocks_window
    return window - window * params.min_signed_per_window_ppm // PPM


def compute_next_signing_info(info: SigningInfo, missed: bool, window: int) -> SigningInfo:
    """The record after one more block, missed or not."""
    bit = 1 << (info.counted % window)
    was_missed = bool(info.bitmap & bit)
    bitmap, count = info.bitmap, info.missed
    if missed and not was_missed:
        bitmap, count = bitmap | bit, count + 1
    elif not missed and was_missed:
        bitmap, count = bitmap & ~bit, count - 1
    return SigningInfo(counted=info.counted + 1, missed=count, bitmap=bitmap)


def slash_validator(
    ws: WorkingState, operator: bytes, *, infraction_height: int, power: int,
    fraction_ppm: int, height: int, params: Params,
) -> int:
    """Burn ⌈power × power_reduction × fraction⌉ uopt for an infraction at
    `infraction_height` (module docstring for the order); returns what was burnt."""
    remaining = compute_slash_round_up(power * params.power_reduction, fraction_ppm)
    burnt = 0
    if infraction_height < height:
        for entry in get_unbonding_entries(ws, operator):
            if entry.creation_height < infraction_height or entry.balance == 0:
                continue
            cut = min(compute_slash_round_up(entry.initial_balance, fraction_ppm), entry.balance)
            ws.set(keys.unbonding_key(entry.validator, entry.delegator, entry.entry_id),
                   replace(entry, balance=entry.balance - cut).encode())
            burn_coins(ws, UNBONDING_POOL_ID, UOPT, cut)
            remaining -= cut
            burnt += cut
        for red in get_redelegations_from(ws, operator):
            if red.creation_height < infraction_height:
                continue
            destination = get_validator(ws, red.destination)
            delegation = get_delegation(ws, red.delegator, red.destination)
            if destination is None or delegation is None:
                continue
            cut_shares = min(compute_slash_round_up(red.shares_destination, fraction_ppm),
                             delegation.shares)
            tokens = compute_tokens_round_down(cut_shares, destination.tokens, destination.shares)
            delegation, _ = settle_rewards(ws, destination, delegation)
            key = keys.delegation_key(red.delegator, red.destination)
            left = delegation.shares - cut_shares
            if left:
                ws.set(key, replace(delegation, shares=left).encode())
            else:
                ws.delete(key)
            set_validator(ws, replace(destination, tokens=destination.tokens - tokens,
                                      shares=destination.shares - cut_shares))
            burn_coins(ws, STAKING_POOL_ID, UOPT, tokens)
            remaining -= tokens
            burnt += tokens
    record = get_validator(ws, operator)
    if record is None:
        raise RuntimeError("slashing a validator that has no record")
    cut = min(max(remaining, 0), record.tokens)
    if cut:
        set_validator(ws, replace(record, tokens=record.tokens - cut))
        burn_coins(ws, STAKING_POOL_ID, UOPT, cut)
    return burnt + cut


def _staked_record(ws: WorkingState, cons_address: bytes) -> ValidatorRecord | None:
    operator = get_operator_by_cons_address(ws, cons_address)
    return None if operator is None else get_validator(ws, operator)


def process_evidence(
    ws: WorkingState, evidence: Sequence[Evidence], height: int, params: Params
) -> list[Event]:
    """Slash, tombstone and jail every offender named by the block's evidence (once)."""
    events: list[Event] = []
    for item in evidence:
        record = _staked_record(ws, item.address)
        if record is None or record.tombstoned:
            continue
        burnt = slash_validator(ws, record.operator, infraction_height=item.height,
                                power=item.power, height=height, params=params,
                                fraction_ppm=params.slash_fraction_double_sign_ppm)
        record = get_validator(ws, record.operator)
        assert record is not None
        set_validator(ws, replace(record, jailed=True, tombstoned=True,
                                  jailed_until_ns=FAR_FUTURE_NS))
        events.append(Event("slash", (
            ("validator", record.operator_address), ("reason", EVIDENCE_NAMES.get(item.kind, "unknown")),
            ("infraction_height", str(item.height)), ("burnt", str(Coin(UOPT, burnt))),
            ("jailed", "true"), ("tombstoned", "true"))))
    return events


def process_liveness(
    ws: WorkingState, votes: Sequence[CommitVote], height: int, params: Params
) -> list[Event]:
    """Count the last commit into each staked validator's window; slash and jail laggards."""
    events: list[Event] = []
    window = params.signed_blocks_window
    for vote in votes:
        record = _staked_record(ws, vote.address)
        if record is None or record.jailed:
            continue
        info = compute_next_signing_info(get_signing_info(ws, vote.address), vote.absent, window)
        key = keys.signing_info_key(vote.address)
        if info.counted >= window and info.missed > compute_max_missed(params):
            burnt = slash_validator(ws, record.operator, infraction_height=height - 1,
                                    power=vote.power, height=height, params=params,
                                    fraction_ppm=params.slash_fraction_downtime_ppm)
            record = get_validator(ws, record.operator)
            assert record is not None
            until = _now_ns(ws) + params.downtime_jail_duration_s * NANOS_PER_SECOND
            set_validator(ws, replace(record, jailed=True, jailed_until_ns=until))
            ws.delete(key)
            events.append(Event("slash", (
                ("validator", record.operator_address), ("reason", "missing_blocks"),
                ("missed", str(info.missed)), ("burnt", str(Coin(UOPT, burnt))),
                ("jailed", "true"), ("jailed_until_ns", str(until)))))
        else:
            ws.set(key, info.encode())
    return events


def process_msg_unjail(ws: WorkingState, msg: Unjail, params: Params) -> tuple[Event, ...]:
    """Return a jailed validator to the candidates after its jail time, if its self-bond
    still meets the minimum; its liveness window starts afresh."""
    operator = format_address(msg.operator_id)
    record = get_validator(ws, msg.operator_id)
    if record is None:
        raise UnknownValidator(operator)
    if record.tombstoned:
        raise ValidatorTombstoned(operator)
    if not record.jailed:
        raise ValidatorNotJailed(operator)
    now = _now_ns(ws)
    if now < record.jailed_until_ns:
        raise JailPeriodNotOver(operator, record.jailed_until_ns, now)
    self_bond = get_self_bond(ws, record)
    if self_bond < params.min_self_delegation_uopt:
        raise BelowMinSelfDelegation(operator, self_bond, params.min_self_delegation_uopt)
    set_validator(ws, replace(record, jailed=False, jailed_until_ns=0))
    ws.delete(keys.signing_info_key(record.cons_address))
    return (Event("unjail", (("validator", operator),)),)
