"""Accounts, balances, supply and the fee pool: typed state, reads, and tx transitions.

Second and third validation steps for transactions (`chain/tx.py::decode_tx` is
the first): `process_tx` runs the stateful checks (timeout, nonce window, fee,
funds) and then executes. It writes as it goes, so callers run it inside
`with ws.transaction():` and a raised `OptioError` leaves state unchanged. The
same function serves CheckTx (against a check-state WorkingState) and
FinalizeBlock.

Stored values (keys in `state/keys.py` section 2):
- balance, supply, fee pool: 8-byte big-endian unsigned ints; a zero balance is
  deleted, so "absent" and "0" have one encoding;
- account: 8-byte big-endian `max_nonce` ‖ the used-nonce bitmap as a
  `nonce_window / 8`-byte big-endian integer (bit i set = nonce max_nonce − i used).
  An account that never signed has no record.

Nonce rule (docs/transactions.md explains why it is a window, not a sequence):
nonce n is accepted iff it is unused and
`max(1, max_nonce − nonce_window + 1) ≤ n ≤ max_nonce + nonce_max_ahead`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from chain.address import format_address, parse_address
from state import keys
from state.codec import decode_u64, encode_u64
from state.denoms import DENOMS, FEE_DENOM, MAX_AMOUNT, UOPT, Coin, coin_text
from state.errors import (
    FeeBelowMinimum,
    InsufficientFunds,
    ModuleAccountRecipient,
    NonceReplayed,
    NonceTooFarAhead,
    NonceTooOld,
    TxExpired,
)
from state.events import Event
from state.params import Params, get_params

if TYPE_CHECKING:
    from chain.tx import CreateValidator, Delegate, Send, SignedTx, TxMessage
    from state.store import WorkingState


@dataclass(frozen=True, slots=True)
class Account:
    """Replay-protection state of one account: highest used nonce and recent-use bitmap."""

    max_nonce: int
    used: int
    """Bit i set means nonce `max_nonce − i` was used; only the low `window` bits exist."""
    window: int

    @classmethod
    def new(cls, window: int) -> Account:
        return cls(max_nonce=0, used=0, window=window)

    @classmethod
    def decode(cls, raw: bytes) -> Account:
        if len(raw) < 9:
            raise ValueError(f"account record of {len(raw)} bytes is too short")
        # (max_nonce, used, window): positional, as in the other hot constructors here
        return cls(decode_u64(raw[:8]), int.from_bytes(raw[8:], "big"), (len(raw) - 8) * 8)

    def encode(self) -> bytes:
        return encode_u64(self.max_nonce) + self.used.to_bytes(self.window // 8, "big")

    @property
    def next_nonce(self) -> int:
        return self.max_nonce + 1

    @property
    def lowest_acceptable_nonce(self) -> int:
        return max(1, self.max_nonce - self.window + 1)

    def is_nonce_used(self, nonce: int) -> bool:
        """Whether `nonce` was used; nonces that fell below the window count as used."""
        offset = self.max_nonce - nonce
        if offset < 0:
            return False
        if offset >= self.window:
            return True
        return bool((self.used >> offset) & 1)

    def with_nonce_used(self, nonce: int) -> Account:
        """The account after marking `nonce` (already checked acceptable) as used."""
        if nonce > self.max_nonce:
            shift = nonce - self.max_nonce
            mask = (1 << self.window) - 1
            return Account(nonce, ((self.used << shift) | 1) & mask, self.window)
        return Account(self.max_nonce, self.used | (1 << (self.max_nonce - nonce)), self.window)


@dataclass(frozen=True, slots=True)
class TxReceipt:
    """What a successful transaction did, for the ABCI result."""

    fee: int
    events: tuple[Event, ...]


def _account_id(address: str | bytes) -> bytes:
    return parse_address(address) if isinstance(address, str) else address


# --- reads ---------------------------------------------------------------------------


def _load_account(ws: WorkingState, account_id: bytes, window: int) -> Account:
    raw = ws.get(keys.account_key(account_id))
    return Account.new(window) if raw is None else Account.decode(raw)


def get_account(ws: WorkingState, address: str | bytes) -> Account:
    """The account's nonce state; a fresh account (next nonce 1) if it never signed."""
    return _load_account(ws, _account_id(address), get_params(ws).nonce_window)


def get_next_nonce(ws: WorkingState, address: str | bytes) -> int:
    """The nonce a wallet should use next: highest used + 1 (1 for a new account)."""
    return get_account(ws, address).next_nonce


def get_balance(ws: WorkingState, address: str | bytes, denom: str) -> int:
    return _balance(ws, _account_id(address), denom)


def _balance(ws: WorkingState, account_id: bytes, denom: str) -> int:
    return _u64_at(ws, keys.balance_key(account_id, denom))


def _u64_at(ws: WorkingState, key: bytes) -> int:
    """The amount stored at `key`; 0 when absent (a zero amount is stored as absent)."""
    raw = ws.get(key)
    return 0 if raw is None else decode_u64(raw)


def get_balances(ws: WorkingState, address: str | bytes) -> tuple[Coin, ...]:
    """Every non-zero balance of an account, in denom order."""
    return tuple(
        Coin(denom, amount) for denom in DENOMS if (amount := get_balance(ws, address, denom)) > 0
    )


def get_supply(ws: WorkingState, denom: str) -> int:
    return _u64_at(ws, keys.supply_key(denom))


def get_fee_pool(ws: WorkingState, denom: str) -> int:
    return _u64_at(ws, keys.fee_pool_key(denom))


def is_supply_conserved(ws: WorkingState) -> bool:
    """Invariant: for every denom, all balances plus the fee pool equal the total supply."""
    held = {denom: get_fee_pool(ws, denom) for denom in DENOMS}
    for key, value in ws.iterate(keys.BALANCE_PREFIX):
        _, denom = keys.split_balance_key(key)
        if denom not in held:
            return False
        held[denom] += decode_u64(value)
    return all(held[denom] == get_supply(ws, denom) for denom in DENOMS)


_FEE_POOL_DENOMS: Final = {keys.fee_pool_key(denom): denom for denom in DENOMS}
_SUPPLY_DENOMS: Final = {keys.supply_key(denom): denom for denom in DENOMS}


def is_supply_change_conserved(ws: WorkingState) -> bool:
    """`is_supply_conserved(ws)` when the committed state under `ws` conserves supply, at the
    cost of the writes `ws` staged instead of every balance: for every denom, the balances and
    the fee pool changed by as much as the supply."""
    change = dict.fromkeys(DENOMS, 0)
    for key, committed, staged in ws.changes(keys.BALANCE_PREFIX, keys.FEE_POOL_PREFIX,
                                             keys.SUPPLY_PREFIX):
        if key.startswith(keys.BALANCE_PREFIX):
            denom, sign = keys.split_balance_key(key)[1], 1
        elif key.startswith(keys.FEE_POOL_PREFIX):
            denom, sign = _FEE_POOL_DENOMS.get(key, ""), 1
        else:
            denom, sign = _SUPPLY_DENOMS.get(key, ""), -1
        if denom not in change:
            return False
        change[denom] += sign * (_amount(staged) - _amount(committed))
    return not any(change.values())


def _amount(raw: bytes | None) -> int:
    return 0 if raw is None else decode_u64(raw)


# --- writes --------------------------------------------------------------------------


def _set_u64_or_delete(ws: WorkingState, key: bytes, value: int) -> None:
    if value == 0:
        ws.delete(key)
    else:
        ws.set(key, encode_u64(value))


def _debit(ws: WorkingState, account_id: bytes, denom: str, amount: int) -> None:
    key = keys.balance_key(account_id, denom)  # built once: read, then written
    balance = _u64_at(ws, key)
    if balance < amount:
        raise InsufficientFunds(format_address(account_id), denom, balance, amount, 0)
    _set_u64_or_delete(ws, key, balance - amount)


def _credit(ws: WorkingState, account_id: bytes, denom: str, amount: int) -> None:
    key = keys.balance_key(account_id, denom)
    balance = _u64_at(ws, key) + amount
    # Balances are bounded by supply, and supply by MAX_AMOUNT; crossing it is a bug.
    if balance > MAX_AMOUNT:
        raise RuntimeError(f"balance of {denom} would exceed MAX_AMOUNT: supply invariant broken")
    ws.set(key, encode_u64(balance))


def transfer_coins(
    ws: WorkingState, from_id: bytes, to_id: bytes, denom: str, amount: int
) -> None:
    """Move coins between two accounts (module accounts included); InsufficientFunds if short."""
    _debit(ws, from_id, denom, amount)
    _credit(ws, to_id, denom, amount)


def burn_coins(ws: WorkingState, account_id: bytes, denom: str, amount: int) -> None:
    """Destroy `amount` coins held by an account, lowering the total supply (slashing)."""
    _debit(ws, account_id, denom, amount)
    _set_u64_or_delete(ws, keys.supply_key(denom), get_supply(ws, denom) - amount)


def take_fee_pool(ws: WorkingState, denom: str, to_id: bytes) -> int:
    """Move the whole fee pool of `denom` into an account (reward distribution); the amount."""
    amount = get_fee_pool(ws, denom)
    if amount:
        ws.delete(keys.fee_pool_key(denom))
        _credit(ws, to_id, denom, amount)
    return amount


def mint_coins(ws: WorkingState, account_id: bytes, denom: str, amount: int) -> None:
    """Create `amount` new coins in an account, raising the total supply (genesis, rewards)."""
    supply = get_supply(ws, denom) + amount
    if supply > MAX_AMOUNT:
        raise ValueError(f"total supply of {denom} would exceed {MAX_AMOUNT}")
    ws.set(keys.supply_key(denom), encode_u64(supply))
    _credit(ws, account_id, denom, amount)


def _check_nonce(account: Account, tx: SignedTx, params: Params) -> None:
    nonce = tx.nonce
    if nonce > account.max_nonce + params.nonce_max_ahead:
        raise NonceTooFarAhead(tx.signer, nonce, account.max_nonce + params.nonce_max_ahead)
    if nonce < account.lowest_acceptable_nonce:
        raise NonceTooOld(tx.signer, nonce, account.lowest_acceptable_nonce)
    if account.is_nonce_used(nonce):
        raise NonceReplayed(tx.signer, nonce)


def _spent(msg: TxMessage) -> tuple[str, int]:
    """What a message takes from the signer's balance: (denom, amount)."""
    send, bonds = _spending_types()
    if isinstance(msg, send):
        return msg.denom, msg.amount
    if isinstance(msg, bonds):
        return UOPT, msg.amount
    return UOPT, 0


def _check_funds(ws: WorkingState, tx: SignedTx) -> int:
    """All spending of the tx (fee + every send and bond) is covered, checked per denom up front
    (in denom order; a denom the tx does not spend cannot fail, so it is not read). Returns the
    signer's balance of the fee denom as read (0 if the tx spends none of it)."""
    spent: dict[str, int] = {}
    for msg in tx.messages:
        denom, amount = _spent(msg)
        spent[denom] = spent.get(denom, 0) + amount
    fee_balance = 0
    for denom in DENOMS:
        amount = spent.get(denom, 0)
        fee = tx.fee if denom == FEE_DENOM else 0
        if amount + fee == 0:
            continue
        balance = _balance(ws, tx.signer_id, denom)
        if amount + fee > balance:
            raise InsufficientFunds(tx.signer, denom, balance, amount, fee)
        if denom == FEE_DENOM:
            fee_balance = balance
    return fee_balance


def process_msg_send(ws: WorkingState, msg: Send, *, events: bool = True) -> tuple[Event, ...]:
    """Move coins between accounts; InsufficientFunds if the sender lacks them. Module
    accounts (staking pools) only move by staking messages."""
    if msg.to_id in _module_account_ids():
        raise ModuleAccountRecipient(msg.to_address)
    _debit(ws, msg.from_id, msg.denom, msg.amount)
    _credit(ws, msg.to_id, msg.denom, msg.amount)
    if not events:
        return ()
    return (Event(
        "transfer",
        (
            ("sender", msg.from_address),
            ("recipient", msg.to_address),
            ("amount", coin_text(msg.amount, msg.denom)),
        ),
    ),)


_FEE_POOL_KEY = keys.fee_pool_key(FEE_DENOM)  # every tx's fee goes here: built once


def process_tx(
    ws: WorkingState, tx: SignedTx, *, height: int, params: Params | None = None,
    events: bool = True,
) -> TxReceipt:
    """Stateful checks then execution of a decoded tx at block `height`.

    Order: timeout, nonce window, minimum fee, funds (fee + all sends) — all
    before the first write — then charge the fee into the fee pool, mark the
    nonce used, and execute the messages in order, each by its handler in the
    dispatch table (sends here, staking messages in state/staking.py and
    state/slashing.py). Run inside
    `ws.transaction()`: a raise leaves no trace. `params` may be passed by a
    caller that already holds the chain's parameters (they only change at
    genesis); otherwise they are read from `ws`. `events=False` (CheckTx, which
    drops them) skips building the events of the tx and of its sends; the receipt
    then has none of those.
    """
    if params is None:
        params = get_params(ws)
    if tx.timeout_height and height > tx.timeout_height:
        raise TxExpired(tx.timeout_height, height)
    account = _load_account(ws, tx.signer_id, params.nonce_window)
    _check_nonce(account, tx, params)
    if tx.fee < params.min_fee_uusd:
        raise FeeBelowMinimum(tx.fee, params.min_fee_uusd, FEE_DENOM)
    fee_balance = _check_funds(ws, tx)

    if tx.fee:  # the balance just read covers it: nothing was written in between
        _set_u64_or_delete(ws, keys.balance_key(tx.signer_id, FEE_DENOM), fee_balance - tx.fee)
        ws.set(_FEE_POOL_KEY, encode_u64(_u64_at(ws, _FEE_POOL_KEY) + tx.fee))
    ws.set(keys.account_key(tx.signer_id), account.with_nonce_used(tx.nonce).encode())
    emitted = [
        Event(
            "tx",
            (
                ("signer", tx.signer),
                ("nonce", str(tx.nonce)),
                ("fee", coin_text(tx.fee, FEE_DENOM)),
            ),
        )
    ] if events else []
    for msg in tx.messages:
        emitted.extend(_handler(msg)(ws, msg, params, height, events))
    return TxReceipt(tx.fee, tuple(emitted))


MsgHandler = Callable[["WorkingState", Any, Params, int, bool], tuple[Event, ...]]
"""(state, message, params, height, events) -> the message's events. `events` False: the
caller drops them, and a handler may skip building them (sends do)."""


def _handler(msg: TxMessage) -> MsgHandler:
    handler = _dispatch_table().get(type(msg))
    if handler is None:
        raise RuntimeError(f"no handler for decoded message {type(msg).__name__}")
    return handler


@cache
def _spending_types() -> tuple[type[Send], tuple[type[CreateValidator], type[Delegate]]]:
    """The message types that spend the signer's coins: sends, and bonds (in uopt)."""
    from chain.tx import CreateValidator, Delegate, Send  # chain.tx imports state modules

    return Send, (CreateValidator, Delegate)


@cache
def _module_account_ids() -> frozenset[bytes]:
    from state.staking import MODULE_ACCOUNT_IDS  # staking imports this module

    return MODULE_ACCOUNT_IDS


@cache
def _dispatch_table() -> dict[type, MsgHandler]:
    """Message type -> handler(ws, msg, params, height, events). Built on first use: the
    staking modules import this module's coin functions, so they cannot be imported at its
    top. Staking messages are rare: they always build their events."""
    from chain import tx
    from state import slashing, staking

    return {
        tx.Send: lambda ws, m, p, h, e: process_msg_send(ws, m, events=e),
        tx.CreateValidator: lambda ws, m, p, h, e: staking.process_msg_create_validator(ws, m, p),
        tx.EditValidator: lambda ws, m, p, h, e: staking.process_msg_edit_validator(ws, m, p),
        tx.Delegate: lambda ws, m, p, h, e: staking.process_msg_delegate(ws, m, p),
        tx.Undelegate: lambda ws, m, p, h, e: staking.process_msg_undelegate(ws, m, p, height=h),
        tx.Redelegate: lambda ws, m, p, h, e: staking.process_msg_redelegate(ws, m, p, height=h),
        tx.Unjail: lambda ws, m, p, h, e: slashing.process_msg_unjail(ws, m, p),
        tx.WithdrawRewards: lambda ws, m, p, h, e: staking.process_msg_withdraw_rewards(ws, m, p),
    }
