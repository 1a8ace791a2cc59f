"""The one error tree of the Optio node.

Every failure expected in normal operation (a bad transaction, a bad query, a
bad genesis file) is an `OptioError` subclass with a stable numbered `code`,
typed fields, and a `.message` a trader can act on. The ABCI layer maps
`code`/`codespace`/`message` onto `ResponseCheckTx`, `ExecTxResult` and
`ResponseQuery`. Any other exception is a bug and must stop the node.

Codes are stable forever: never renumber, never reuse a retired number.
0 is success and 1 is reserved for internal errors, as in CometBFT and the
Cosmos SDK. Ranges: 2-29 stateless tx checks, 30-59 stateful tx checks,
60-79 genesis, 80-99 oracle and ordering, 100-119 queries. `docs/errors.md` lists the table.
"""

from __future__ import annotations

from typing import ClassVar

CODESPACE = "optio"
CODE_OK = 0
CODE_INTERNAL = 1


class OptioError(Exception):
    """Base of every expected failure; subclasses set `code` and typed fields."""

    code: ClassVar[int] = CODE_INTERNAL
    codespace: ClassVar[str] = CODESPACE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Transactions: stateless checks (decode_tx) ------------------------------------


class TxError(OptioError):
    """A transaction was rejected."""


class MalformedTx(TxError):
    """The bytes are not a valid protobuf `Tx`/`TxBody`."""

    code = 2

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"malformed transaction: {detail}")


class TxTooLarge(TxError):
    code = 3

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"transaction too large: {size} bytes, the limit is {limit} bytes")


class NonCanonicalTx(TxError):
    """Valid protobuf, but not the one canonical encoding (the hash could be malleated)."""

    code = 4

    def __init__(self, part: str) -> None:
        self.part = part
        super().__init__(
            f"non-canonical transaction encoding in {part}: re-encode it with a standard "
            "protobuf encoder (fields in order, no default values, no unknown fields)"
        )


class EmptyTx(TxError):
    code = 5

    def __init__(self) -> None:
        super().__init__("transaction has no messages: add at least one message")


class UnknownMessage(TxError):
    code = 6

    def __init__(self, index: int) -> None:
        self.index = index
        super().__init__(
            f"message {index} is empty or of a type this chain does not know; "
            "upgrade your wallet or remove the message"
        )


class TooManyMessages(TxError):
    code = 7

    def __init__(self, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(f"transaction has {count} messages, at most {limit} are allowed")


class WrongChainId(TxError):
    code = 8

    def __init__(self, got: str, expected: str) -> None:
        self.got = got
        self.expected = expected
        super().__init__(
            f"transaction was signed for chain {got!r} but this chain is {expected!r}"
        )


class InvalidPublicKey(TxError):
    code = 9

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid public key: {reason}")


class InvalidSignature(TxError):
    code = 10

    def __init__(self, signer: str) -> None:
        self.signer = signer
        super().__init__(
            f"invalid signature for signer {signer}: the transaction was altered or "
            "signed with another key or for another chain"
        )


class SignerMismatch(TxError):
    code = 11

    def __init__(self, index: int, from_address: str, signer: str) -> None:
        self.index = index
        self.from_address = from_address
        self.signer = signer
        super().__init__(
            f"message {index} spends from {from_address} but the transaction is signed "
            f"by {signer}; only the owner of an account can send from it"
        )


class InvalidAddress(TxError):
    code = 12

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"invalid address {address!r}: {reason}")


class MemoTooLong(TxError):
    code = 13

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"memo is {size} bytes, at most {limit} bytes are allowed")


class InvalidAmount(TxError):
    """Zero where forbidden, negative, not a plain decimal integer, or over the maximum."""

    code = 14

    def __init__(self, amount: str, denom: str, reason: str) -> None:
        self.amount = amount
        self.denom = denom
        self.reason = reason
        super().__init__(f"invalid amount {amount!r} {denom}: {reason}")


class UnknownDenom(TxError):
    code = 15

    def __init__(self, denom: str, known: tuple[str, ...]) -> None:
        self.denom = denom
        self.known = known
        super().__init__(
            f"unknown denomination {denom!r}; this chain knows {', '.join(known)}"
        )


class InvalidFeeDenom(TxError):
    code = 16

    def __init__(self, denom: str, fee_denom: str) -> None:
        self.denom = denom
        self.fee_denom = fee_denom
        super().__init__(f"fees are paid in {fee_denom}, not in {denom!r}")


class InvalidNonce(TxError):
    code = 17

    def __init__(self, nonce: int) -> None:
        self.nonce = nonce
        super().__init__(f"nonce {nonce} is not valid: nonces start at 1")


# --- Transactions: stateful checks (process_tx) ------------------------------------


class TxExpired(TxError):
    code = 30

    def __init__(self, timeout_height: int, height: int) -> None:
        self.timeout_height = timeout_height
        self.height = height
        super().__init__(
            f"transaction expired: it was valid up to height {timeout_height}, "
            f"the chain is at height {height}"
        )


class NonceReplayed(TxError):
    code = 31

    def __init__(self, address: str, nonce: int) -> None:
        self.address = address
        self.nonce = nonce
        super().__init__(
            f"nonce {nonce} of account {address} was already used; "
            "this transaction (or another with the same nonce) is already on chain"
        )


class NonceTooOld(TxError):
    code = 32

    def __init__(self, address: str, nonce: int, lowest: int) -> None:
        self.address = address
        self.nonce = nonce
        self.lowest = lowest
        super().__init__(
            f"nonce {nonce} of account {address} is too old: the lowest nonce still "
            f"accepted is {lowest}; query the next nonce and re-sign"
        )


class NonceTooFarAhead(TxError):
    code = 33

    def __init__(self, address: str, nonce: int, highest: int) -> None:
        self.address = address
        self.nonce = nonce
        self.highest = highest
        super().__init__(
            f"nonce {nonce} of account {address} is too far ahead: the highest nonce "
            f"accepted now is {highest}; query the next nonce and re-sign"
        )


class FeeBelowMinimum(TxError):
    code = 34

    def __init__(self, fee: int, minimum: int, denom: str) -> None:
        self.fee = fee
        self.minimum = minimum
        self.denom = denom
        super().__init__(f"fee too low: {fee} {denom} offered, the minimum is {minimum} {denom}")


class InsufficientFunds(TxError):
    code = 35

    def __init__(self, address: str, denom: str, balance: int, amount: int, fee: int) -> None:
        self.address = address
        self.denom = denom
        self.balance = balance
        self.amount = amount
        self.fee = fee
        needed = amount + fee
        super().__init__(
            f"insufficient funds: account {address} has {balance} {denom}, "
            f"needs {needed} {denom} (amount {amount} + fee {fee})"
        )


# --- Staking (40-59): stateless message checks 40-44, stateful checks 45-59 ----------


class StakingError(TxError):
    """A staking message was rejected."""


class InvalidConsensusKey(StakingError):
    code = 40

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"invalid consensus public key: {reason}; use the 32-byte ed25519 key from the "
            "node's priv_validator_key.json"
        )


class InvalidCommission(StakingError):
    code = 41

    def __init__(self, rate_ppm: int) -> None:
        self.rate_ppm = rate_ppm
        super().__init__(
            f"invalid commission rate {rate_ppm} ppm: it must be between 0 and 1000000 (100%)"
        )


class InvalidMoniker(StakingError):
    code = 42

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid moniker: {reason}")


class SelfRedelegation(StakingError):
    code = 43

    def __init__(self, validator: str) -> None:
        self.validator = validator
        super().__init__(f"cannot redelegate from validator {validator} to itself")


class WrongStakingDenom(StakingError):
    code = 44

    def __init__(self, denom: str, expected: str) -> None:
        self.denom = denom
        self.expected = expected
        super().__init__(f"stake is bonded in {expected}, not {denom}")


class UnknownValidator(StakingError):
    code = 45

    def __init__(self, validator: str) -> None:
        self.validator = validator
        super().__init__(f"no validator is operated by {validator}")


class ValidatorExists(StakingError):
    code = 46

    def __init__(self, validator: str) -> None:
        self.validator = validator
        super().__init__(
            f"account {validator} already operates a validator; use edit-validator to change it"
        )


class DuplicateConsensusKey(StakingError):
    code = 47

    def __init__(self, cons_address: str) -> None:
        self.cons_address = cons_address
        super().__init__(
            f"consensus key with address {cons_address} is already used by a validator; "
            "every validator needs its own key"
        )


class BelowMinSelfDelegation(StakingError):
    code = 48

    def __init__(self, validator: str, self_bond: int, minimum: int) -> None:
        self.validator = validator
        self.self_bond = self_bond
        self.minimum = minimum
        super().__init__(
            f"self-delegation of {validator} would be {self_bond} uopt, below the minimum "
            f"{minimum} uopt"
        )


class ValidatorJailed(StakingError):
    code = 49

    def __init__(self, validator: str) -> None:
        self.validator = validator
        super().__init__(
            f"validator {validator} is jailed: only its operator may bond to it until it unjails"
        )


class ValidatorTombstoned(StakingError):
    code = 50

    def __init__(self, validator: str) -> None:
        self.validator = validator
        super().__init__(
            f"validator {validator} was tombstoned for double signing and can never validate "
            "again; choose another validator"
        )


class ValidatorNotJailed(StakingError):
    code = 51

    def __init__(self, validator: str) -> None:
        self.validator = validator
        super().__init__(f"validator {validator} is not jailed; nothing to unjail")


class JailPeriodNotOver(StakingError):
    code = 52

    def __init__(self, validator: str, until_ns: int, now_ns: int) -> None:
        self.validator = validator
        self.until_ns = until_ns
        self.now_ns = now_ns
        remaining = -(-(until_ns - now_ns) // 1_000_000_000)
        super().__init__(
            f"validator {validator} stays jailed for another {remaining} s of block time"
        )


class InsufficientDelegation(StakingError):
    code = 53

    def __init__(self, delegator: str, validator: str, available: int, requested: int) -> None:
        self.delegator = delegator
        self.validator = validator
        self.available = available
        self.requested = requested
        super().__init__(
            f"{delegator} has {available} uopt delegated to {validator}, cannot move {requested}"
        )


class TooManyUnbondingEntries(StakingError):
    code = 54

    def __init__(self, delegator: str, validator: str, limit: int) -> None:
        self.delegator = delegator
        self.validator = validator
        self.limit = limit
        super().__init__(
            f"{delegator} already has {limit} pending unbonding or redelegation entries with "
            f"{validator}; wait for one to complete"
        )


class NoDelegation(StakingError):
    code = 55

    def __init__(self, delegator: str, validator: str) -> None:
        self.delegator = delegator
        self.validator = validator
        super().__init__(f"{delegator} has no delegation to validator {validator}")


class TransitiveRedelegation(StakingError):
    code = 56

    def __init__(self, delegator: str, validator: str) -> None:
        self.delegator = delegator
        self.validator = validator
        super().__init__(
            f"stake of {delegator} arrived at {validator} by a redelegation that is still "
            "maturing; it cannot be redelegated again until then"
        )


class ValidatorInsolvent(StakingError):
    code = 57

    def __init__(self, validator: str) -> None:
        self.validator = validator
        super().__init__(
            f"validator {validator} has no tokens left behind its shares (fully slashed); "
            "delegating to it is refused"
        )


class DelegationTooSmall(StakingError):
    code = 58

    def __init__(self, validator: str, amount: int) -> None:
        self.validator = validator
        self.amount = amount
        super().__init__(
            f"{amount} uopt buys less than one share of validator {validator}; bond more"
        )


class ModuleAccountRecipient(StakingError):
    code = 59

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(
            f"{address} is a module account (staking, unbonding or rewards pool) and cannot "
            "receive transfers; use the staking messages instead"
        )


# --- Genesis -------------------------------------------------------------------------


class GenesisError(OptioError):
    """The genesis app_state is invalid; `path` points at the offending JSON value."""

    code = 60

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"invalid genesis at {path}: {reason}")


class GenesisInvalidAddress(GenesisError):
    code = 61


class GenesisDuplicateAccount(GenesisError):
    code = 62


class GenesisInvalidBalance(GenesisError):
    code = 63


class GenesisUnknownDenom(GenesisError):
    code = 64


class GenesisUnknownParam(GenesisError):
    code = 65


class GenesisInvalidParam(GenesisError):
    code = 66


class GenesisSupplyOverflow(GenesisError):
    code = 67


class GenesisInvalidValidator(GenesisError):
    code = 68


# --- Oracle and ordering (injected txs) --------------------------------------------------


class InjectedTxNotAllowed(TxError):
    """Oracle and ordering txs are built by the block proposer, never sent by users."""

    code = 80

    def __init__(self) -> None:
        super().__init__(
            "injected transactions (oracle, ordering) are added by block proposers only "
            "and cannot be submitted"
        )


# --- Queries -------------------------------------------------------------------------


class QueryError(OptioError):
    """An ABCI query could not be answered."""


class UnknownQueryPath(QueryError):
    code = 100

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"unknown query path {path!r}")


class InvalidQueryKey(QueryError):
    code = 101

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"bad query data for {path!r}: {reason}")


class QueryHeightUnavailable(QueryError):
    code = 102

    def __init__(self, requested: int, latest: int) -> None:
        self.requested = requested
        self.latest = latest
        super().__init__(
            f"state at height {requested} is not available; only the latest "
            f"committed height {latest} can be queried"
        )


def _concrete_errors() -> tuple[type[OptioError], ...]:
    """Every class that owns a code, in code order (abstract families excluded)."""
    found: list[type[OptioError]] = []
    pending: list[type[OptioError]] = [OptioError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__ and cls is not OptioError:
            found.append(cls)
    return tuple(sorted(found, key=lambda c: c.code))


CODES: dict[int, type[OptioError]] = {cls.code: cls for cls in _concrete_errors()}
"""Stable code -> error class. Built once at import; a duplicate code fails loudly below."""

if len(CODES) != len(_concrete_errors()):
    raise RuntimeError("two error classes share one code")
