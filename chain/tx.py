"""Transactions: decoding with every stateless check, and building/signing for the wallet.

`decode_tx` is the first of the three validation steps (shape → state → execute):
it turns raw CometBFT tx bytes into a typed `SignedTx` or raises an `OptioError`.
Nothing here reads state; `state/accounts.py::process_tx` does the rest.

Signing: ed25519 (RFC 8032, which hashes internally with SHA-512, so no pre-hash)
over `SIGN_DOMAIN ‖ body`, where body is the canonical `TxBody` bytes carried
verbatim in `Tx.body`. The body contains the chain id, so a signature is valid on
one chain only; the domain tag keeps these signatures from ever being valid as
some other Optio signed object. Only the canonical protobuf encoding is accepted
(re-encode and compare), so nobody can re-wrap a signed tx into different bytes
with a different hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from google.protobuf.message import DecodeError, Message

from chain.address import account_id_from_public_key, format_address, parse_address
from chain.canonical import NotCanonical, NotProtobuf, parse_canonical
from chain.ed25519 import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, is_valid_public_key, verify_signature
from chain.proto import tx_pb2
from state.denoms import DENOMS, FEE_DENOM, MAX_AMOUNT, UOPT, is_known_denom
from state.errors import (
    EmptyTx,
    InvalidAmount,
    InvalidCommission,
    InvalidConsensusKey,
    InvalidMoniker,
    SelfRedelegation,
    WrongStakingDenom,
    InvalidFeeDenom,
    InvalidNonce,
    InvalidPublicKey,
    InvalidSignature,
    MalformedTx,
    MemoTooLong,
    NonCanonicalTx,
    SignerMismatch,
    TooManyMessages,
    TxTooLarge,
    UnknownDenom,
    UnknownMessage,
    WrongChainId,
)
from state.params import DEFAULT_PARAMS

_M = TypeVar("_M", bound=Message)

SIGN_DOMAIN = b"optio/tx/v1\x00"
_CANONICAL_UINT = re.compile(r"0|[1-9][0-9]*")
# Longer digit strings cannot be <= MAX_AMOUNT (19 digits); checking length first
# keeps int() from ever parsing an attacker-sized number.
_MAX_AMOUNT_DIGITS = len(str(MAX_AMOUNT))


@dataclass(frozen=True, slots=True)
class Send:
    """A validated MsgSend: move `amount` (> 0) of `denom` between 20-byte account ids."""

    from_id: bytes
    to_id: bytes
    denom: str
    amount: int

    @property
    def from_address(self) -> str:
        return format_address(self.from_id)

    @property
    def to_address(self) -> str:
        return format_address(self.to_id)


@dataclass(frozen=True, slots=True)
class CreateValidator:
    """Register the signer as validator operator with a consensus key; bond `amount` uopt."""

    operator_id: bytes
    pub_key: bytes
    commission_ppm: int
    moniker: str
    amount: int


@dataclass(frozen=True, slots=True)
class EditValidator:
    """Change the signer's validator; None leaves a field unchanged."""

    operator_id: bytes
    moniker: str | None
    commission_ppm: int | None


@dataclass(frozen=True, slots=True)
class Delegate:
    delegator_id: bytes
    validator_id: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class Undelegate:
    delegator_id: bytes
    validator_id: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class Redelegate:
    delegator_id: bytes
    source_id: bytes
    destination_id: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class Unjail:
    operator_id: bytes


@dataclass(frozen=True, slots=True)
class WithdrawRewards:
    delegator_id: bytes
    validator_id: bytes


TxMessage = (Send | CreateValidator | EditValidator | Delegate | Undelegate | Redelegate
             | Unjail | WithdrawRewards)
"""Union of typed messages; grows as the Msg oneof does."""
MAX_MONIKER_BYTES = 70
MAX_COMMISSION_PPM = 1_000_000


class SignedTx(NamedTuple):
    """A transaction that passed every stateless check, signature included.

    A NamedTuple: immutable like the frozen dataclasses elsewhere, and built in half the
    time (one per tx on every node)."""

    hash: bytes
    """SHA-256 of the raw tx bytes (32 bytes); `tx_hash` gives the hex form."""
    size: int
    chain_id: str
    nonce: int
    fee: int
    """Fee in FEE_DENOM (uusd); 0 when the tx carries none."""
    memo: str
    timeout_height: int
    """Last height at which the tx may execute; 0 means no limit."""
    messages: tuple[TxMessage, ...]
    signer_id: bytes
    """20-byte account id derived from `public_key`; pays the fee and owns the nonce."""
    public_key: bytes

    @property
    def signer(self) -> str:
        return format_address(self.signer_id)


def tx_hash(raw: bytes) -> str:
    """The tx hash as CometBFT shows it: upper-case hex of SHA-256 of the raw bytes."""
    return hashlib.sha256(raw).hexdigest().upper()


def sign_bytes(body: bytes) -> bytes:
    """The exact bytes an ed25519 signature covers."""
    return SIGN_DOMAIN + body


# --- decoding ------------------------------------------------------------------------


def _parse_canonical(cls: type[_M], raw: bytes, part: str) -> _M:
    try:
        return parse_canonical(cls, raw)
    except NotProtobuf as exc:
        raise MalformedTx(f"{part} is not a valid protobuf message ({exc})") from None
    except NotCanonical:
        raise NonCanonicalTx(part) from None


def parse_amount(text: str, denom: str, *, allow_zero: bool) -> int:
    """A canonical decimal amount in [0 or 1, MAX_AMOUNT]; raise InvalidAmount otherwise."""
    if (0 < len(text) <= _MAX_AMOUNT_DIGITS and text.isascii() and text.isdigit()
            and text[0] != "0"):
        value = int(text)  # the common case: no leading zero, at most 19 digits
        if value <= MAX_AMOUNT:
            return value
    if text.startswith("-") and _CANONICAL_UINT.fullmatch(text[1:]):
        raise InvalidAmount(text, denom, "amounts cannot be negative")
    if not _CANONICAL_UINT.fullmatch(text):
        raise InvalidAmount(text, denom, "not a whole number of micro-units (digits only, no leading zeros)")
    if len(text) > _MAX_AMOUNT_DIGITS or int(text) > MAX_AMOUNT:
        raise InvalidAmount(text, denom, f"exceeds the maximum amount {MAX_AMOUNT}")
    value = int(text)
    if value == 0 and not allow_zero:
        raise InvalidAmount(text, denom, "must be greater than zero")
    return value


def _check_denom(denom: str) -> None:
    if not is_known_denom(denom):
        raise UnknownDenom(denom, DENOMS)


def _decode_send(index: int, send: tx_pb2.MsgSend, signer_id: bytes) -> Send:
    from_id = parse_address(send.from_address)
    to_id = parse_address(send.to_address)
    if from_id != signer_id:
        raise SignerMismatch(index, send.from_address, format_address(signer_id))
    coin = send.amount
    denom = coin.denom
    _check_denom(denom)
    return Send(from_id, to_id, denom, parse_amount(coin.amount, denom, allow_zero=False))


def _signer_address(index: int, text: str, signer_id: bytes) -> bytes:
    """Parse an address field that must name the signer (SignerMismatch otherwise)."""
    account_id = parse_address(text)
    if account_id != signer_id:
        raise SignerMismatch(index, text, format_address(signer_id))
    return account_id


def _stake_amount(coin: tx_pb2.Coin) -> int:
    _check_denom(coin.denom)
    if coin.denom != UOPT:
        raise WrongStakingDenom(coin.denom, UOPT)
    return parse_amount(coin.amount, coin.denom, allow_zero=False)


def _check_moniker(moniker: str) -> None:
    size = len(moniker.encode())
    if not moniker.strip():
        raise InvalidMoniker("it is empty; name the validator")
    if size > MAX_MONIKER_BYTES:
        raise InvalidMoniker(f"{size} bytes, at most {MAX_MONIKER_BYTES}")
    if any(ch < " " or ch == "\x7f" for ch in moniker):
        raise InvalidMoniker("control characters are not allowed")


def _check_commission(rate_ppm: int) -> None:
    if rate_ppm > MAX_COMMISSION_PPM:
        raise InvalidCommission(rate_ppm)


def _decode_staking(index: int, msg: tx_pb2.Msg, kind: str, signer_id: bytes) -> TxMessage:
    """Stateless checks of one staking message (addresses, signer, key, rates, amounts)."""
    if kind == "create_validator":
        m = msg.create_validator
        operator = _signer_address(index, m.operator_address, signer_id)
        key = m.consensus_pub_key
        if len(key) != PUBLIC_KEY_BYTES:
            raise InvalidConsensusKey(f"{len(key)} bytes, expected 32")
        if not is_valid_public_key(key):
            raise InvalidConsensusKey("not a usable ed25519 curve point")
        _check_commission(m.commission_ppm)
        _check_moniker(m.moniker)
        return CreateValidator(operator, key, m.commission_ppm, m.moniker, _stake_amount(m.self_bond))
    if kind == "edit_validator":
        e = msg.edit_validator
        operator = _signer_address(index, e.operator_address, signer_id)
        moniker = e.moniker if e.HasField("moniker") else None
        rate = e.commission_ppm if e.HasField("commission_ppm") else None
        if moniker is not None:
            _check_moniker(moniker)
        if rate is not None:
            _check_commission(rate)
        return EditValidator(operator, moniker, rate)
    if kind in ("delegate", "undelegate"):
        d = msg.delegate if kind == "delegate" else msg.undelegate
        delegator = _signer_address(index, d.delegator_address, signer_id)
        validator = parse_address(d.validator_address)
        cls = Delegate if kind == "delegate" else Undelegate
        return cls(delegator, validator, _stake_amount(d.amount))
    if kind == "redelegate":
        r = msg.redelegate
        delegator = _signer_address(index, r.delegator_address, signer_id)
        source = parse_address(r.src_validator_address)
        destination = parse_address(r.dst_validator_address)
        if source == destination:
            raise SelfRedelegation(format_address(source))
        return Redelegate(delegator, source, destination, _stake_amount(r.amount))
    if kind == "unjail":
        return Unjail(_signer_address(index, msg.unjail.validator_address, signer_id))
    if kind == "withdraw_rewards":
        w = msg.withdraw_rewards
        delegator = _signer_address(index, w.delegator_address, signer_id)
        return WithdrawRewards(delegator, parse_address(w.validator_address))
    raise UnknownMessage(index)


def decode_tx(
    raw: bytes,
    chain_id: str,
    max_tx_bytes: int,
    *,
    max_memo_bytes: int = DEFAULT_PARAMS.max_memo_bytes,
    max_msgs_per_tx: int = DEFAULT_PARAMS.max_msgs_per_tx,
    signature_valid: bool | None = None,
) -> SignedTx:
    """Decode raw tx bytes and run every check that needs no state.

    Checks in order, cheapest first: size, protobuf shape and canonical encoding,
    chain id, public key, signature, nonce > 0, memo length, message count, fee,
    then each message (known type, addresses, signer = sender, denom, amount).
    The signature is checked before the messages so that a forged tx costs one
    verification and no more. Pass the chain's `Params` limits for memo/message
    count (the defaults are the default params). `signature_valid` is the verdict of an
    earlier batch verification of `signature_claim(raw)` (chain/ed25519_batch.py); None
    verifies here.
    """
    if len(raw) > max_tx_bytes:
        raise TxTooLarge(len(raw), max_tx_bytes)
    tx = _parse_canonical(tx_pb2.Tx, raw, "Tx")
    body = _parse_canonical(tx_pb2.TxBody, tx.body, "TxBody")
    if body.chain_id != chain_id:
        raise WrongChainId(body.chain_id, chain_id)
    public_key = tx.pub_key
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise InvalidPublicKey(f"expected a 32-byte ed25519 key, got {len(public_key)} bytes")
    if not is_valid_public_key(public_key):
        raise InvalidPublicKey("not a usable ed25519 curve point (invalid or small-order key)")
    signer_id = account_id_from_public_key(public_key)
    if signature_valid is None:
        signature_valid = verify_signature(public_key, tx.signature, sign_bytes(tx.body))
    if len(tx.signature) != SIGNATURE_BYTES or not signature_valid:
        raise InvalidSignature(format_address(signer_id))
    nonce = body.nonce
    if nonce == 0:
        raise InvalidNonce(nonce)
    memo = body.memo
    memo_size = len(memo.encode())
    if memo_size > max_memo_bytes:
        raise MemoTooLong(memo_size, max_memo_bytes)
    msgs = body.messages
    if not msgs:
        raise EmptyTx()
    if len(msgs) > max_msgs_per_tx:
        raise TooManyMessages(len(msgs), max_msgs_per_tx)
    fee = 0
    if body.HasField("fee"):
        coin = body.fee
        if coin.denom != FEE_DENOM:
            if not is_known_denom(coin.denom):
                raise UnknownDenom(coin.denom, DENOMS)
            raise InvalidFeeDenom(coin.denom, FEE_DENOM)
        fee = parse_amount(coin.amount, FEE_DENOM, allow_zero=True)
    messages: list[TxMessage] = []
    for index, msg in enumerate(msgs):
        kind = msg.WhichOneof("sum")
        if kind == "send":
            messages.append(_decode_send(index, msg.send, signer_id))
        elif kind is not None:
            messages.append(_decode_staking(index, msg, kind, signer_id))
        else:
            raise UnknownMessage(index)
    return SignedTx(
        hash=hashlib.sha256(raw).digest(),
        size=len(raw),
        chain_id=chain_id,
        nonce=nonce,
        fee=fee,
        memo=memo,
        timeout_height=body.timeout_height,
        messages=tuple(messages),
        signer_id=signer_id,
        public_key=public_key,
    )


def signature_claim(raw: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(public key, signature, signed bytes) whose verification `decode_tx` requires of this
    tx, for verifying many at once; None if the bytes are no `Tx` or its key is unusable
    (decode_tx then fails before it looks at the signature, and such a key would make the
    whole batch fall back to one-by-one checks)."""
    try:
        tx = tx_pb2.Tx.FromString(raw)
    except DecodeError:
        return None
    if not is_valid_public_key(tx.pub_key):
        return None
    return tx.pub_key, tx.signature, sign_bytes(tx.body)


# --- building (wallet side) ------------------------------------------------------------


def _coin(denom: str, amount: int) -> tx_pb2.Coin:
    return tx_pb2.Coin(denom=denom, amount=str(amount))


def build_send_msg(from_address: str, to_address: str, amount: int, denom: str) -> tx_pb2.Msg:
    """One MsgSend wrapped in Msg (amount in micro-units)."""
    return tx_pb2.Msg(
        send=tx_pb2.MsgSend(
            from_address=from_address, to_address=to_address, amount=_coin(denom, amount)
        )
    )


def build_staking_msg(kind: str, **fields: object) -> tx_pb2.Msg:
    """One staking message wrapped in Msg: `kind` is the oneof name (`create_validator`,
    `edit_validator`, `delegate`, `undelegate`, `redelegate`, `unjail`, `withdraw_rewards`) and
    `fields` its proto fields, with amounts given as ints of uopt (`self_bond=`, `amount=`)."""
    values = {k: _coin(UOPT, v) if k in ("self_bond", "amount") and isinstance(v, int) else v
              for k, v in fields.items()}
    msg = tx_pb2.Msg()
    getattr(msg, kind).CopyFrom(getattr(tx_pb2, _STAKING_MSG_TYPES[kind])(**values))
    return msg


_STAKING_MSG_TYPES = {
    "create_validator": "MsgCreateValidator", "edit_validator": "MsgEditValidator",
    "delegate": "MsgDelegate", "undelegate": "MsgUndelegate", "redelegate": "MsgRedelegate",
    "unjail": "MsgUnjail", "withdraw_rewards": "MsgWithdrawRewards",
}


def build_tx_body(
    *,
    chain_id: str,
    nonce: int,
    messages: Sequence[tx_pb2.Msg],
    fee: int = 0,
    memo: str = "",
    timeout_height: int = 0,
) -> bytes:
    """Canonical TxBody bytes; a zero fee is left out (the node reads absent as 0)."""
    body = tx_pb2.TxBody(
        chain_id=chain_id, nonce=nonce, memo=memo, timeout_height=timeout_height, messages=messages
    )
    if fee:
        body.fee.CopyFrom(_coin(FEE_DENOM, fee))
    return body.SerializeToString(deterministic=True)


def _private_key(key: Ed25519PrivateKey | bytes) -> Ed25519PrivateKey:
    if isinstance(key, Ed25519PrivateKey):
        return key
    return Ed25519PrivateKey.from_private_bytes(key)


def public_key_bytes(private_key: Ed25519PrivateKey | bytes) -> bytes:
    """Raw 32-byte public key of a private key (object or 32-byte seed)."""
    return _private_key(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_tx(private_key: Ed25519PrivateKey | bytes, body: bytes) -> bytes:
    """Sign canonical TxBody bytes and return the raw Tx bytes ready for broadcast."""
    key = _private_key(private_key)
    tx = tx_pb2.Tx(body=body, pub_key=public_key_bytes(key), signature=key.sign(sign_bytes(body)))
    return tx.SerializeToString(deterministic=True)


def build_msgs_tx(
    private_key: Ed25519PrivateKey | bytes,
    messages: Sequence[tx_pb2.Msg],
    *,
    chain_id: str,
    nonce: int,
    fee: int = 0,
    memo: str = "",
    timeout_height: int = 0,
) -> bytes:
    """A signed transaction of any messages (e.g. from `build_staking_msg`); raw Tx bytes."""
    body = build_tx_body(chain_id=chain_id, nonce=nonce, messages=messages, fee=fee, memo=memo,
                         timeout_height=timeout_height)
    return sign_tx(private_key, body)


def signer_address(private_key: Ed25519PrivateKey | bytes) -> str:
    """The `optio1…` address that signs with `private_key`."""
    return format_address(account_id_from_public_key(public_key_bytes(private_key)))


def build_send_tx(
    private_key: Ed25519PrivateKey | bytes,
    *,
    chain_id: str,
    nonce: int,
    to: str,
    amount: int,
    denom: str,
    fee: int = 0,
    memo: str = "",
    timeout_height: int = 0,
) -> bytes:
    """A signed single-send transaction from the key's own address; raw Tx bytes."""
    sender = signer_address(private_key)
    body = build_tx_body(
        chain_id=chain_id,
        nonce=nonce,
        messages=[build_send_msg(sender, to, amount, denom)],
        fee=fee,
        memo=memo,
        timeout_height=timeout_height,
    )
    return sign_tx(private_key, body)
