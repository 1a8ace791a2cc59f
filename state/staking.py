"""Staking: validators, delegations, unbonding and redelegation entries, and the active set.

Money model (docs/staking.md derives every formula): bonded `uopt` sits in the staking pool
module account, unbonding `uopt` in the unbonding pool, undistributed rewards in the rewards
pool — all ordinary balances, so `is_supply_conserved` still covers every coin, and
`check_staking_invariants` ties each pool to the records it backs. A validator holds `tokens`
and has issued `shares` to its delegators; a delegation holds shares. Slashing burns tokens and
leaves shares alone, so every delegator loses the same proportion. Every conversion rounds
against the user: shares bought round down, shares burnt round up, tokens paid round down,
slashes round up.

Rewards use a cumulative reward-per-share per validator and denom (scaled by REWARD_SCALE): a
block credits a validator in O(1), and a delegation's reward is its shares times the growth of
that number since it last settled, rounded down. Any change to a delegation first pays out
its pending rewards.

The active set is recomputed at the end of every block (`process_staking_end_block`): the top
`max_validators` by power (tokens // power_reduction) among unjailed validators, ties broken by
tokens then consensus address; only the changes go back to CometBFT. A genesis whose app_state
declares no validators keeps CometBFT's InitChain validators as fixed, unbacked members
("fixed validators": ranked with their genesis power, never rewarded or slashed).

Message handlers (`process_msg_*`) run inside the tx's state transaction; they check then
write, and raise a numbered StakingError for bad input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Final, TypeVar

from chain.address import format_address, parse_address
from state import keys
from state.accounts import burn_coins, get_balance, transfer_coins
from state.block import NANOS_PER_SECOND, get_block_header
from state.codec import decode_u64, encode_u64
from state.denoms import DENOMS, UOPT, Coin
from state.errors import (
    BelowMinSelfDelegation,
    DelegationTooSmall,
    DuplicateConsensusKey,
    GenesisInvalidValidator,
    InsufficientDelegation,
    NoDelegation,
    TooManyUnbondingEntries,
    TransitiveRedelegation,
    UnknownValidator,
    ValidatorExists,
    ValidatorInsolvent,
    ValidatorJailed,
    ValidatorTombstoned,
)
from state.events import Event
from state.params import Params, get_params
from state.validators import (
    Validator,
    consensus_address,
    get_validator_set,
    has_validator_set,
    process_initial_validator_set,
    process_validator_updates,
    sort_validators,
)

if TYPE_CHECKING:
    from chain.tx import CreateValidator, Delegate, EditValidator, Redelegate, Undelegate
    from chain.tx import WithdrawRewards
    from genesis.schema import AppGenesis
    from state.store import WorkingState

PPM: Final = 1_000_000
SHARES_PER_TOKEN: Final = 1_000_000
"""Shares issued per token by a validator with no shares yet (finer than tokens, so later
round-downs lose less)."""
REWARD_SCALE: Final = 10**18
"""Fixed-point scale of the cumulative reward-per-share."""

UNBONDED: Final = 0
UNBONDING: Final = 1
BONDED: Final = 2
STATUS_NAMES: Final = ("unbonded", "unbonding", "bonded")
FAR_FUTURE_NS: Final = 2**63 - 1
"""`jailed_until_ns` of a tombstoned validator: never."""


def module_account_id(name: str) -> bytes:
    """20-byte id of a module account: SHA-256("optio/module/" ‖ name), first 20 bytes. No
    private key hashes to it, so only the state machine moves its coins."""
    return hashlib.sha256(b"optio/module/" + name.encode()).digest()[:20]


STAKING_POOL_ID: Final = module_account_id("staking")
"""Holds every validator's `tokens` (bonded or not)."""
UNBONDING_POOL_ID: Final = module_account_id("unbonding")
"""Holds the balance of every unbonding entry until it matures."""
REWARDS_POOL_ID: Final = module_account_id("rewards")
"""Holds allocated, not yet withdrawn rewards and commission (plus rounding dust)."""
MODULE_ACCOUNT_IDS: Final = frozenset({STAKING_POOL_ID, UNBONDING_POOL_ID, REWARDS_POOL_ID})


# --- records -----------------------------------------------------------------------------

_BYTES_FIELDS: Final = frozenset(
    {"operator", "pub_key", "delegator", "validator", "source", "destination"})
_TUPLE_FIELDS: Final = frozenset({"reward_per_share", "commission_accrued", "reward_snapshot"})
_R = TypeVar("_R")


def _encode_record(record: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, bytes as lower-case hex, ints as JSON ints."""
    obj: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        obj[f.name] = value.hex() if f.name in _BYTES_FIELDS else (
            list(value) if f.name in _TUPLE_FIELDS else value)
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _decode_record(cls: type[_R], raw: bytes) -> _R:
    obj = json.loads(raw)
    for name in _BYTES_FIELDS & obj.keys():
        obj[name] = bytes.fromhex(obj[name])
    for name in _TUPLE_FIELDS & obj.keys():
        obj[name] = tuple(obj[name])
    return cls(**obj)


_ZERO_PER_DENOM: Final = tuple(0 for _ in DENOMS)


@dataclass(frozen=True, slots=True)
class ValidatorRecord:
    """One validator, keyed by its operator's account id."""

    operator: bytes
    pub_key: bytes
    """32-byte ed25519 consensus key; fixed for life."""
    moniker: str
    commission_ppm: int
    tokens: int = 0
    """uopt backing the validator (held by the staking pool); slashing lowers it."""
    shares: int = 0
    """Total delegator shares issued; equals the sum of its delegations' shares."""
    status: int = UNBONDED
    jailed: bool = False
    tombstoned: bool = False
    jailed_until_ns: int = 0
    unbonding_completion_ns: int = 0
    """When an UNBONDING validator becomes UNBONDED."""
    reward_per_share: tuple[int, ...] = _ZERO_PER_DENOM
    """Cumulative rewards per share, × REWARD_SCALE, one per denom in DENOMS order."""
    commission_accrued: tuple[int, ...] = _ZERO_PER_DENOM
    """Commission earned by the operator and not yet withdrawn, per denom."""

    @property
    def cons_address(self) -> bytes:
        return consensus_address(self.pub_key)

    @property
    def operator_address(self) -> str:
        return format_address(self.operator)

    def power(self, power_reduction: int) -> int:
        return compute_power(self.tokens, power_reduction)

    def is_eligible(self) -> bool:
        """May rank for the active set (power decides whether it does)."""
        return not self.jailed and not self.tombstoned

    def encode(self) -> bytes:
        return _encode_record(self)

    @classmethod
    def decode(cls, raw: bytes) -> ValidatorRecord:
        return _decode_record(cls, raw)


@dataclass(frozen=True, slots=True)
class Delegation:
    delegator: bytes
    validator: bytes
    shares: int
    reward_snapshot: tuple[int, ...] = _ZERO_PER_DENOM
    """The validator's reward_per_share when this delegation last settled its rewards."""

    def encode(self) -> bytes:
        return _encode_record(self)

    @classmethod
    def decode(cls, raw: bytes) -> Delegation:
        return _decode_record(cls, raw)


@dataclass(frozen=True, slots=True)
class UnbondingEntry:
    validator: bytes
    delegator: bytes
    entry_id: int
    creation_height: int
    completion_ns: int
    initial_balance: int
    balance: int
    """uopt still to be paid out (lowered by slashes for infractions before creation)."""

    def encode(self) -> bytes:
        return _encode_record(self)


@dataclass(frozen=True, slots=True)
class RedelegationEntry:
    source: bytes
    delegator: bytes
    destination: bytes
    entry_id: int
    creation_height: int
    completion_ns: int
    initial_balance: int
    shares_destination: int
    """Shares received at the destination, slashable for the source's earlier infractions."""

    def encode(self) -> bytes:
        return _encode_record(self)


# --- pure maths (rounding direction in every name) -----------------------------------------


def compute_power(tokens: int, power_reduction: int) -> int:
    """Voting power: whole units of `power_reduction` (rounded down)."""
    return tokens // power_reduction


def compute_shares_issued_round_down(amount: int, tokens: int, shares: int) -> int:
    """Shares bought by bonding `amount`: amount × shares / tokens, rounded down (the buyer
    never gets more than they pay for); SHARES_PER_TOKEN per token for a validator with no
    shares. Callers reject tokens == 0 < shares (insolvent) first."""
    if shares == 0:
        return amount * SHARES_PER_TOKEN
    return amount * shares // tokens


def compute_shares_burnt_round_up(amount: int, tokens: int, shares: int) -> int:
    """Shares given up to withdraw `amount` tokens: ⌈amount × shares / tokens⌉ (the leaver
    never takes more than their shares are worth). Requires tokens > 0."""
    return -(-amount * shares // tokens)


def compute_tokens_round_down(share_count: int, tokens: int, shares: int) -> int:
    """Token value of `share_count` shares, rounded down."""
    return share_count * tokens // shares if shares else 0


def compute_slash_round_up(amount: int, fraction_ppm: int) -> int:
    """⌈amount × fraction⌉: a slash never rounds in the offender's favour."""
    return -(-amount * fraction_ppm // PPM)


def compute_reward_owed_round_down(share_count: int, growth: int) -> int:
    """Rewards of `share_count` shares over a reward-per-share growth, rounded down."""
    return share_count * growth // REWARD_SCALE


def compute_active_set(
    candidates: Iterable[tuple[Validator, int]], max_validators: int
) -> tuple[Validator, ...]:
    """Top `max_validators` of (validator, tokens) by power, then tokens, then consensus
    address (ascending); zero power never ranks. Returned in CometBFT order."""
    ranked = sorted(
        (c for c in candidates if c[0].power > 0),
        key=lambda c: (-c[0].power, -c[1], c[0].address),
    )
    return sort_validators(v for v, _ in ranked[:max_validators])


# --- reads -------------------------------------------------------------------------------


def get_validator(ws: WorkingState, operator: bytes) -> ValidatorRecord | None:
    raw = ws.get(keys.validator_key(operator))
    return None if raw is None else _decode_record(ValidatorRecord, raw)


def get_validators(ws: WorkingState) -> tuple[ValidatorRecord, ...]:
    """Every validator record, in operator key order."""
    return tuple(_decode_record(ValidatorRecord, raw)
                 for _, raw in ws.iterate(keys.STK_VALIDATOR_PREFIX))


def get_operator_by_cons_address(ws: WorkingState, cons_address: bytes) -> bytes | None:
    return ws.get(keys.cons_address_key(cons_address))


def get_delegation(ws: WorkingState, delegator: bytes, validator: bytes) -> Delegation | None:
    raw = ws.get(keys.delegation_key(delegator, validator))
    return None if raw is None else _decode_record(Delegation, raw)


def get_delegations(ws: WorkingState, delegator: bytes) -> tuple[Delegation, ...]:
    return tuple(_decode_record(Delegation, raw)
                 for _, raw in ws.iterate(keys.delegation_prefix(delegator)))


def get_all_delegations(ws: WorkingState) -> tuple[Delegation, ...]:
    return tuple(_decode_record(Delegation, raw)
                 for _, raw in ws.iterate(keys.STK_DELEGATION_PREFIX))


def get_unbonding_entries(
    ws: WorkingState, validator: bytes, delegator: bytes | None = None
) -> tuple[UnbondingEntry, ...]:
    return tuple(_decode_record(UnbondingEntry, raw)
                 for _, raw in ws.iterate(keys.unbonding_prefix(validator, delegator)))


def get_all_unbonding_entries(ws: WorkingState) -> tuple[UnbondingEntry, ...]:
    return tuple(_decode_record(UnbondingEntry, raw)
                 for _, raw in ws.iterate(keys.STK_UNBONDING_PREFIX))


def get_unbonding_entries_of(ws: WorkingState, delegator: bytes) -> tuple[UnbondingEntry, ...]:
    """A delegator's pending unbonding entries (across validators)."""
    return tuple(e for e in get_all_unbonding_entries(ws) if e.delegator == delegator)


def get_redelegations_from(ws: WorkingState, source: bytes) -> tuple[RedelegationEntry, ...]:
    return tuple(_decode_record(RedelegationEntry, raw)
                 for _, raw in ws.iterate(keys.redelegation_prefix(source)))


def get_all_redelegations(ws: WorkingState) -> tuple[RedelegationEntry, ...]:
    return tuple(_decode_record(RedelegationEntry, raw)
                 for _, raw in ws.iterate(keys.STK_REDELEGATION_PREFIX))


def get_fixed_validators(ws: WorkingState) -> tuple[Validator, ...]:
    return tuple(Validator.of(raw[:32], decode_u64(raw[32:]))
                 for _, raw in ws.iterate(keys.STK_FIXED_PREFIX))


def get_delegation_tokens(ws: WorkingState, delegator: bytes, validator: bytes) -> int:
    """Token value of a delegation now (rounded down); 0 without one."""
    record = get_validator(ws, validator)
    delegation = get_delegation(ws, delegator, validator)
    if record is None or delegation is None:
        return 0
    return compute_tokens_round_down(delegation.shares, record.tokens, record.shares)


def get_self_bond(ws: WorkingState, record: ValidatorRecord) -> int:
    return get_delegation_tokens(ws, record.operator, record.operator)


def get_pending_rewards(ws: WorkingState, delegator: bytes, validator: bytes) -> tuple[Coin, ...]:
    """Rewards a withdraw would pay the delegator now (commission excluded), per denom."""
    record = get_validator(ws, validator)
    delegation = get_delegation(ws, delegator, validator)
    if record is None or delegation is None:
        return ()
    return tuple(Coin(d, a) for d, a in zip(DENOMS, _owed(record, delegation)) if a > 0)


def _owed(record: ValidatorRecord, delegation: Delegation) -> tuple[int, ...]:
    return tuple(
        compute_reward_owed_round_down(delegation.shares, now - then)
        for now, then in zip(record.reward_per_share, delegation.reward_snapshot)
    )


# --- writes ------------------------------------------------------------------------------


def set_validator(ws: WorkingState, record: ValidatorRecord) -> None:
    ws.set(keys.validator_key(record.operator), record.encode())


def _set_delegation(ws: WorkingState, delegation: Delegation) -> None:
    key = keys.delegation_key(delegation.delegator, delegation.validator)
    if delegation.shares == 0:
        ws.delete(key)
    else:
        ws.set(key, delegation.encode())


def _next_entry_id(ws: WorkingState) -> int:
    raw = ws.get(keys.STK_SEQ_KEY)
    entry_id = 0 if raw is None else decode_u64(raw)
    ws.set(keys.STK_SEQ_KEY, encode_u64(entry_id + 1))
    return entry_id


def _now_ns(ws: WorkingState) -> int:
    header = get_block_header(ws)
    return 0 if header is None else header.time_ns


def settle_rewards(
    ws: WorkingState, record: ValidatorRecord, delegation: Delegation
) -> tuple[Delegation, tuple[Coin, ...]]:
    """Pay a delegation's pending rewards from the rewards pool; the delegation with its
    snapshot moved to now, and what was paid."""
    paid: list[Coin] = []
    for denom, amount in zip(DENOMS, _owed(record, delegation)):
        if amount:
            transfer_coins(ws, REWARDS_POOL_ID, delegation.delegator, denom, amount)
            paid.append(Coin(denom, amount))
    return replace(delegation, reward_snapshot=record.reward_per_share), tuple(paid)


def _require_validator(ws: WorkingState, operator: bytes) -> ValidatorRecord:
    record = get_validator(ws, operator)
    if record is None:
        raise UnknownValidator(format_address(operator))
    return record


def _check_can_receive_bond(record: ValidatorRecord, delegator: bytes) -> None:
    if record.tombstoned:
        raise ValidatorTombstoned(record.operator_address)
    if record.jailed and delegator != record.operator:
        raise ValidatorJailed(record.operator_address)
    if record.tokens == 0 and record.shares > 0:
        raise ValidatorInsolvent(record.operator_address)


def _bond(
    ws: WorkingState, record: ValidatorRecord, delegator: bytes, amount: int
) -> tuple[ValidatorRecord, int, tuple[Coin, ...]]:
    """Add `amount` tokens (already in the staking pool) to a validator for `delegator`.
    Returns the updated record, the shares issued and any rewards settled on the way."""
    issued = compute_shares_issued_round_down(amount, record.tokens, record.shares)
    if issued == 0:
        raise DelegationTooSmall(record.operator_address, amount)
    delegation = get_delegation(ws, delegator, record.operator)
    paid: tuple[Coin, ...] = ()
    if delegation is None:
        delegation = Delegation(delegator, record.operator, 0, record.reward_per_share)
    else:
        delegation, paid = settle_rewards(ws, record, delegation)
    _set_delegation(ws, replace(delegation, shares=delegation.shares + issued))
    record = replace(record, tokens=record.tokens + amount, shares=record.shares + issued)
    set_validator(ws, record)
    return record, issued, paid


def _unbond(
    ws: WorkingState, record: ValidatorRecord, delegator: bytes, amount: int, params: Params
) -> ValidatorRecord:
    """Remove `amount` tokens of `delegator`'s delegation from a validator (tokens stay in the
    staking pool for the caller to move). Burns ⌈amount × shares / tokens⌉ shares."""
    delegation = get_delegation(ws, delegator, record.operator)
    if delegation is None:
        raise NoDelegation(format_address(delegator), record.operator_address)
    available = compute_tokens_round_down(delegation.shares, record.tokens, record.shares)
    if record.tokens == 0 or amount > available:
        raise InsufficientDelegation(
            format_address(delegator), record.operator_address, available, amount)
    burnt = compute_shares_burnt_round_up(amount, record.tokens, record.shares)
    delegation, _ = settle_rewards(ws, record, delegation)
    _set_delegation(ws, replace(delegation, shares=delegation.shares - burnt))
    record = replace(record, tokens=record.tokens - amount, shares=record.shares - burnt)
    if delegator == record.operator and not record.jailed:
        self_bond = compute_tokens_round_down(delegation.shares - burnt, record.tokens,
                                              record.shares)
        if self_bond < params.min_self_delegation_uopt:
            # As in the Cosmos SDK: an operator below its own minimum leaves the set.
            record = replace(record, jailed=True, jailed_until_ns=_now_ns(ws))
    set_validator(ws, record)
    return record


def _count_pending_entries(ws: WorkingState, delegator: bytes, validator: bytes) -> int:
    return len(get_unbonding_entries(ws, validator, delegator))


# --- message handlers ----------------------------------------------------------------------


def process_msg_create_validator(
    ws: WorkingState, msg: CreateValidator, params: Params
) -> tuple[Event, ...]:
    """Register a validator for the signer and bond its self-delegation from its balance."""
    operator = format_address(msg.operator_id)
    if get_validator(ws, msg.operator_id) is not None:
        raise ValidatorExists(operator)
    cons = consensus_address(msg.pub_key)
    if (get_operator_by_cons_address(ws, cons) is not None
            or ws.get(keys.fixed_validator_key(cons)) is not None):
        raise DuplicateConsensusKey(cons.hex().upper())
    if msg.amount < params.min_self_delegation_uopt:
        raise BelowMinSelfDelegation(operator, msg.amount, params.min_self_delegation_uopt)
    record = ValidatorRecord(operator=msg.operator_id, pub_key=msg.pub_key, moniker=msg.moniker,
                             commission_ppm=msg.commission_ppm)
    ws.set(keys.cons_address_key(cons), msg.operator_id)
    transfer_coins(ws, msg.operator_id, STAKING_POOL_ID, UOPT, msg.amount)
    _bond(ws, record, msg.operator_id, msg.amount)
    return (Event("create_validator", (
        ("validator", operator), ("consensus_address", cons.hex().upper()),
        ("moniker", msg.moniker), ("commission_ppm", str(msg.commission_ppm)),
        ("self_bond", str(Coin(UOPT, msg.amount))))),)


def process_msg_edit_validator(
    ws: WorkingState, msg: EditValidator, params: Params
) -> tuple[Event, ...]:
    """Change moniker and/or commission rate of the signer's validator."""
    record = _require_validator(ws, msg.operator_id)
    if msg.moniker is not None:
        record = replace(record, moniker=msg.moniker)
    if msg.commission_ppm is not None:
        record = replace(record, commission_ppm=msg.commission_ppm)
    set_validator(ws, record)
    return (Event("edit_validator", (
        ("validator", record.operator_address), ("moniker", record.moniker),
        ("commission_ppm", str(record.commission_ppm)))),)


def process_msg_delegate(ws: WorkingState, msg: Delegate, params: Params) -> tuple[Event, ...]:
    """Bond `amount` uopt of the signer to a validator at its current exchange rate."""
    record = _require_validator(ws, msg.validator_id)
    _check_can_receive_bond(record, msg.delegator_id)
    transfer_coins(ws, msg.delegator_id, STAKING_POOL_ID, UOPT, msg.amount)
    _, issued, paid = _bond(ws, record, msg.delegator_id, msg.amount)
    return (Event("delegate", (
        ("delegator", format_address(msg.delegator_id)), ("validator", record.operator_address),
        ("amount", str(Coin(UOPT, msg.amount))), ("shares", str(issued)),
        ("rewards", _coins_text(paid)))),)


def process_msg_undelegate(
    ws: WorkingState, msg: Undelegate, params: Params, *, height: int
) -> tuple[Event, ...]:
    """Start unbonding `amount` uopt: it leaves the validator now (so stops earning) and is paid
    out after `unbonding_time_s` of block time, slashable meanwhile for earlier infractions."""
    record = _require_validator(ws, msg.validator_id)
    delegator = format_address(msg.delegator_id)
    if _count_pending_entries(ws, msg.delegator_id, msg.validator_id) >= params.max_entries:
        raise TooManyUnbondingEntries(delegator, record.operator_address, params.max_entries)
    _unbond(ws, record, msg.delegator_id, msg.amount, params)
    transfer_coins(ws, STAKING_POOL_ID, UNBONDING_POOL_ID, UOPT, msg.amount)
    completion = _now_ns(ws) + params.unbonding_time_s * NANOS_PER_SECOND
    entry_id = _next_entry_id(ws)
    entry = UnbondingEntry(validator=msg.validator_id, delegator=msg.delegator_id,
                           entry_id=entry_id, creation_height=height, completion_ns=completion,
                           initial_balance=msg.amount, balance=msg.amount)
    key = keys.unbonding_key(msg.validator_id, msg.delegator_id, entry_id)
    ws.set(key, entry.encode())
    ws.set(keys.unbonding_queue_key(completion, entry_id), key)
    return (Event("undelegate", (
        ("delegator", delegator), ("validator", record.operator_address),
        ("amount", str(Coin(UOPT, msg.amount))), ("completion_time_ns", str(completion)))),)


def process_msg_redelegate(
    ws: WorkingState, msg: Redelegate, params: Params, *, height: int
) -> tuple[Event, ...]:
    """Move `amount` uopt of stake from one validator to another without unbonding. The moved
    stake stays slashable for the source's earlier infractions until the unbonding time passes,
    and cannot be redelegated again meanwhile."""
    source = _require_validator(ws, msg.source_id)
    destination = _require_validator(ws, msg.destination_id)
    delegator = format_address(msg.delegator_id)
    _check_can_receive_bond(destination, msg.delegator_id)
    now = _now_ns(ws)
    entries = get_redelegations_from(ws, msg.source_id)
    pair = [e for e in entries if e.delegator == msg.delegator_id
            and e.destination == msg.destination_id]
    if len(pair) >= params.max_entries:
        raise TooManyUnbondingEntries(delegator, source.operator_address, params.max_entries)
    for entry in get_all_redelegations(ws):
        if (entry.delegator == msg.delegator_id and entry.destination == msg.source_id
                and entry.completion_ns > now):
            raise TransitiveRedelegation(delegator, source.operator_address)
    _unbond(ws, source, msg.delegator_id, msg.amount, params)
    destination = _require_validator(ws, msg.destination_id)  # the same record if self-moved
    _, issued, _ = _bond(ws, destination, msg.delegator_id, msg.amount)
    completion = now + params.unbonding_time_s * NANOS_PER_SECOND
    entry_id = _next_entry_id(ws)
    entry = RedelegationEntry(source=msg.source_id, delegator=msg.delegator_id,
                              destination=msg.destination_id, entry_id=entry_id,
                              creation_height=height, completion_ns=completion,
                              initial_balance=msg.amount, shares_destination=issued)
    key = keys.redelegation_key(msg.source_id, msg.delegator_id, msg.destination_id, entry_id)
    ws.set(key, entry.encode())
    ws.set(keys.redelegation_queue_key(completion, entry_id), key)
    return (Event("redelegate", (
        ("delegator", delegator), ("source_validator", source.operator_address),
        ("destination_validator", destination.operator_address),
        ("amount", str(Coin(UOPT, msg.amount))), ("completion_time_ns", str(completion)))),)


def process_msg_withdraw_rewards(
    ws: WorkingState, msg: WithdrawRewards, params: Params
) -> tuple[Event, ...]:
    """Pay the signer's rewards from one delegation, plus the validator's commission when the
    signer is its operator."""
    record = _require_validator(ws, msg.validator_id)
    delegator = format_address(msg.delegator_id)
    delegation = get_delegation(ws, msg.delegator_id, msg.validator_id)
    is_operator = msg.delegator_id == record.operator
    if delegation is None and not is_operator:
        raise NoDelegation(delegator, record.operator_address)
    paid: tuple[Coin, ...] = ()
    if delegation is not None:
        delegation, paid = settle_rewards(ws, record, delegation)
        _set_delegation(ws, delegation)
    commission: list[Coin] = []
    if is_operator:
        for denom, amount in zip(DENOMS, record.commission_accrued):
            if amount:
                transfer_coins(ws, REWARDS_POOL_ID, record.operator, denom, amount)
                commission.append(Coin(denom, amount))
        set_validator(ws, replace(record, commission_accrued=_ZERO_PER_DENOM))
    return (Event("withdraw_rewards", (
        ("delegator", delegator), ("validator", record.operator_address),
        ("rewards", _coins_text(paid)), ("commission", _coins_text(tuple(commission))))),)


def _coins_text(coins: Sequence[Coin]) -> str:
    return ",".join(str(c) for c in coins)


# --- end of block ----------------------------------------------------------------------------


def _pop_due(ws: WorkingState, prefix: bytes, now: int) -> list[tuple[bytes, bytes]]:
    """Queue entries due at or before `now`, removed from the queue, in time order."""
    due = []
    for key, value in ws.iterate(prefix):
        if keys.queue_time(key, prefix) > now:
            break
        due.append((key, value))
    for key, _ in due:
        ws.delete(key)
    return due


def process_matured_entries(ws: WorkingState, now: int) -> list[Event]:
    """Pay out matured unbonding entries, drop matured redelegation entries, and move
    validators whose unbonding period ended to UNBONDED."""
    events: list[Event] = []
    for _, entry_key in _pop_due(ws, keys.STK_UNBONDING_QUEUE_PREFIX, now):
        raw = ws.get(entry_key)
        if raw is None:
            raise RuntimeError("unbonding queue points at a missing entry")
        entry = _decode_record(UnbondingEntry, raw)
        ws.delete(entry_key)
        if entry.balance:
            transfer_coins(ws, UNBONDING_POOL_ID, entry.delegator, UOPT, entry.balance)
        events.append(Event("complete_unbonding", (
            ("delegator", format_address(entry.delegator)),
            ("validator", format_address(entry.validator)),
            ("amount", str(Coin(UOPT, entry.balance))))))
    for _, entry_key in _pop_due(ws, keys.STK_REDELEGATION_QUEUE_PREFIX, now):
        ws.delete(entry_key)
    for key, _ in _pop_due(ws, keys.STK_VALIDATOR_QUEUE_PREFIX, now):
        operator = key[len(keys.STK_VALIDATOR_QUEUE_PREFIX) + 9:]
        record = get_validator(ws, operator)
        if record is not None and record.status == UNBONDING:
            set_validator(ws, replace(record, status=UNBONDED, unbonding_completion_ns=0))
    return events


def compute_state_active_set(ws: WorkingState, params: Params) -> tuple[Validator, ...]:
    """The set the current state ranks into: eligible validators and fixed validators."""
    candidates = [
        (Validator.of(r.pub_key, r.power(params.power_reduction)), r.tokens)
        for r in get_validators(ws) if r.is_eligible()
    ]
    candidates += [(v, v.power * params.power_reduction) for v in get_fixed_validators(ws)]
    return compute_active_set(candidates, params.max_validators)


def _apply_bond_statuses(
    ws: WorkingState, active: Sequence[Validator], now: int, params: Params
) -> None:
    """BONDED for members of `active`; a BONDED validator that left starts unbonding."""
    members = {v.address for v in active}
    for record in get_validators(ws):
        inside = record.cons_address in members
        if inside and record.status != BONDED:
            if record.status == UNBONDING:
                ws.delete(keys.validator_queue_key(record.unbonding_completion_ns,
                                                   record.operator))
            set_validator(ws, replace(record, status=BONDED, unbonding_completion_ns=0))
            # Liveness is measured from (re)entry into the set, as in the Cosmos SDK.
            ws.delete(keys.signing_info_key(record.cons_address))
        elif not inside and record.status == BONDED:
            completion = now + params.unbonding_time_s * NANOS_PER_SECOND
            set_validator(ws, replace(record, status=UNBONDING,
                                      unbonding_completion_ns=completion))
            ws.set(keys.validator_queue_key(completion, record.operator), b"")


def compute_updates(
    current: Sequence[Validator], target: Sequence[Validator]
) -> tuple[Validator, ...]:
    """The CometBFT updates turning `current` into `target`: changed or new members with their
    power, departed ones with power 0; each key once, in address order."""
    before = {v.address: v for v in current}
    after = {v.address: v for v in target}
    updates = [v for a, v in after.items() if a not in before or before[a].power != v.power]
    updates += [replace(v, power=0) for a, v in before.items() if a not in after]
    return tuple(sorted(updates, key=lambda v: v.address))


def process_staking_end_block(
    ws: WorkingState, height: int
) -> tuple[list[Event], tuple[Validator, ...]]:
    """Mature entries, rank the set, record it for `height + 2`; the validator updates."""
    params = get_params(ws)
    now = _now_ns(ws)
    events = process_matured_entries(ws, now)
    if not has_validator_set(ws, height + 1):
        # A chain whose InitChain set nothing (in-process tests without validators).
        return events, ()
    active = compute_state_active_set(ws, params)
    if not active:
        # CometBFT halts on an empty set; keep the current one until someone can validate.
        process_validator_updates(ws, height, ())
        return events, ()
    _apply_bond_statuses(ws, active, now, params)
    updates = compute_updates(get_validator_set(ws, height + 1), active)
    process_validator_updates(ws, height, updates)
    return events, updates


# --- genesis -------------------------------------------------------------------------------


def process_genesis_validators(
    ws: WorkingState, genesis: AppGenesis, offered: Sequence[Validator], initial_height: int
) -> tuple[Validator, ...]:
    """InitChain: bond the app_state's validators and delegations (from the genesis balances)
    and rank them; without any, keep CometBFT's `offered` validators as fixed members. Records
    the set for the first two heights and returns it (InitChain's answer)."""
    params = get_params(ws)
    staking = genesis.staking
    if not staking.validators:
        for validator in offered:
            ws.set(keys.fixed_validator_key(validator.address),
                   validator.pub_key + encode_u64(validator.power))
        active = sort_validators(offered)
        process_initial_validator_set(ws, initial_height, active)
        return active
    for index, gv in enumerate(staking.validators):
        path = f"app_state.staking.validators[{index}]"
        operator = parse_address(gv.operator)
        if get_balance(ws, operator, UOPT) < gv.self_bond:
            raise GenesisInvalidValidator(
                path, f"operator {gv.operator} has less than the self-bond {gv.self_bond} uopt")
        if gv.self_bond < params.min_self_delegation_uopt:
            raise GenesisInvalidValidator(
                path, f"self-bond below min_self_delegation_uopt {params.min_self_delegation_uopt}")
        cons = consensus_address(gv.pub_key)
        if get_validator(ws, operator) is not None or get_operator_by_cons_address(ws, cons):
            raise GenesisInvalidValidator(path, "operator or consensus key listed twice")
        record = ValidatorRecord(operator=operator, pub_key=gv.pub_key, moniker=gv.moniker,
                                 commission_ppm=gv.commission_ppm)
        ws.set(keys.cons_address_key(cons), operator)
        transfer_coins(ws, operator, STAKING_POOL_ID, UOPT, gv.self_bond)
        _bond(ws, record, operator, gv.self_bond)
    for index, gd in enumerate(staking.delegations):
        path = f"app_state.staking.delegations[{index}]"
        delegator = parse_address(gd.delegator)
        target = get_validator(ws, parse_address(gd.validator))
        if target is None:
            raise GenesisInvalidValidator(path, f"no genesis validator {gd.validator}")
        if get_balance(ws, delegator, UOPT) < gd.amount:
            raise GenesisInvalidValidator(path, f"{gd.delegator} has less than {gd.amount} uopt")
        transfer_coins(ws, delegator, STAKING_POOL_ID, UOPT, gd.amount)
        _bond(ws, target, delegator, gd.amount)
    active = compute_state_active_set(ws, params)
    if not active:
        raise GenesisInvalidValidator("app_state.staking.validators",
                                      "no validator reaches power 1 (tokens // power_reduction)")
    _apply_bond_statuses(ws, active, 0, params)
    process_initial_validator_set(ws, initial_height, active)
    return active


# --- invariants ----------------------------------------------------------------------------


def check_staking_invariants(ws: WorkingState, height: int) -> None:
    """Raise RuntimeError when the staking records and pools disagree (checked after every
    block with `check_invariants`): pools back exactly the tokens and entries, delegations sum
    to each validator's shares, the rewards pool covers everything owed, and the set stored
    for `height + 2` (what CometBFT was told) is exactly the BONDED validators plus the fixed
    ones that ranked."""
    params = get_params(ws)
    validators = {r.operator: r for r in get_validators(ws)}
    tokens = sum(r.tokens for r in validators.values())
    if tokens != get_balance(ws, STAKING_POOL_ID, UOPT):
        raise RuntimeError(f"invariant broken at height {height}: staking pool != bonded tokens")
    unbonding = sum(e.balance for e in get_all_unbonding_entries(ws))
    if unbonding != get_balance(ws, UNBONDING_POOL_ID, UOPT):
        raise RuntimeError(f"invariant broken at height {height}: unbonding pool != entries")
    shares = dict.fromkeys(validators, 0)
    owed = list(_ZERO_PER_DENOM)
    for delegation in get_all_delegations(ws):
        record = validators[delegation.validator]
        shares[delegation.validator] += delegation.shares
        owed = [o + a for o, a in zip(owed, _owed(record, delegation))]
    for operator, record in validators.items():
        if shares[operator] != record.shares:
            raise RuntimeError(f"invariant broken at height {height}: delegator shares of "
                               f"{record.operator_address} do not sum to its shares")
        owed = [o + c for o, c in zip(owed, record.commission_accrued)]
    for denom, amount in zip(DENOMS, owed):
        if get_balance(ws, REWARDS_POOL_ID, denom) < amount:
            raise RuntimeError(f"invariant broken at height {height}: rewards pool short of "
                               f"{denom}")
    if not has_validator_set(ws, height + 2):
        return
    stored = {v.address for v in get_validator_set(ws, height + 2)}
    bonded = {r.cons_address for r in validators.values() if r.status == BONDED}
    fixed = {v.address for v in get_fixed_validators(ws)}
    if bonded - stored or (stored - bonded) - fixed:
        raise RuntimeError(f"invariant broken at height {height}: the set given to CometBFT "
                           "differs from the bonded validators")
    ranked = compute_state_active_set(ws, params)
    if ranked and set(ranked) != set(get_validator_set(ws, height + 2)):
        raise RuntimeError(f"invariant broken at height {height}: stored set is not the ranking")
