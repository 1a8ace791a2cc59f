"""Every transaction rejection: stable code, a message a trader understands, state untouched.

Each test drives the same path as the app (decode_tx, then process_tx inside
`ws.transaction()`) on a real Store, and checks the app hash before and after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.address import address_from_public_key, format_address
from chain.proto import tx_pb2
from chain.tx import build_send_msg, build_send_tx, build_tx_body, decode_tx, public_key_bytes, sign_tx
from genesis.process import process_genesis
from genesis.schema import AppGenesis, GenesisAccount
from state.accounts import TxReceipt, process_tx
from state.denoms import Coin
from state.errors import OptioError
from state.params import Params, get_params
from state.store import Store, WorkingState

CHAIN = "optio-test-1"
RICH = Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32)
POOR = Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
RICH_ADDR = address_from_public_key(public_key_bytes(RICH))
POOR_ADDR = address_from_public_key(public_key_bytes(POOR))
OTHER_ADDR = format_address(bytes(20))
FEE = 100


@pytest.fixture
def ws(tmp_path: object) -> Iterator[WorkingState]:
    store = Store(str(tmp_path) + "/db")
    genesis = AppGenesis(
        params=Params(min_fee_uusd=FEE),
        accounts=(
            GenesisAccount(RICH_ADDR, (Coin("uopt", 10**12), Coin("uusd", 10**12))),
            GenesisAccount(POOR_ADDR, (Coin("uopt", 7), Coin("uusd", 150))),
        ),
    )
    working = store.working()
    process_genesis(working, genesis, chain_id=CHAIN)
    store.commit(working, 1)
    yield store.working()
    store.close()


def submit(ws: WorkingState, raw: bytes, *, height: int = 10) -> TxReceipt:
    """What the app does for one tx in CheckTx/FinalizeBlock."""
    params = get_params(ws)
    with ws.transaction():
        tx = decode_tx(
            raw,
            CHAIN,
            params.max_tx_bytes,
            max_memo_bytes=params.max_memo_bytes,
            max_msgs_per_tx=params.max_msgs_per_tx,
        )
        return process_tx(ws, tx, height=height)


def assert_rejected(ws: WorkingState, raw: bytes, code: int, *fragments: str, height: int = 10) -> None:
    before = ws.app_hash()
    with pytest.raises(OptioError) as info:
        submit(ws, raw, height=height)
    assert (info.value.code, info.value.codespace) == (code, "optio"), info.value.message
    for fragment in fragments:
        assert fragment in info.value.message
    assert ws.app_hash() == before


def send(key: Ed25519PrivateKey = RICH, **overrides: object) -> bytes:
    args: dict[str, object] = dict(
        chain_id=CHAIN, nonce=1, to=OTHER_ADDR, amount=10, denom="uusd", fee=FEE, memo=""
    )
    args.update(overrides)
    return build_send_tx(key, **args)  # type: ignore[arg-type]


def signed_body(key: Ed25519PrivateKey, body: tx_pb2.TxBody) -> bytes:
    return sign_tx(key, body.SerializeToString(deterministic=True))


def body_with(*messages: tx_pb2.Msg, fee: tx_pb2.Coin | None = None, nonce: int = 1) -> tx_pb2.TxBody:
    body = tx_pb2.TxBody(chain_id=CHAIN, nonce=nonce, messages=messages)
    body.fee.CopyFrom(fee if fee is not None else tx_pb2.Coin(denom="uusd", amount=str(FEE)))
    return body


def coin_msg(denom: str, amount: str, sender: str = RICH_ADDR) -> tx_pb2.Msg:
    return tx_pb2.Msg(
        send=tx_pb2.MsgSend(
            from_address=sender, to_address=OTHER_ADDR, amount=tx_pb2.Coin(denom=denom, amount=amount)
        )
    )


def test_valid_send_is_accepted_and_changes_state(ws: WorkingState) -> None:
    before = ws.app_hash()
    receipt = submit(ws, send())
    assert receipt.fee == FEE
    assert ws.app_hash() != before


def test_garbage_bytes_are_malformed(ws: WorkingState) -> None:
    assert_rejected(ws, b"\xff\xff\xff", 2, "malformed transaction")


def test_oversized_tx_is_rejected_before_decoding(ws: WorkingState) -> None:
    assert_rejected(ws, send(memo="x" * 20_000), 3, "transaction too large", "limit is 16384 bytes")


def test_non_canonical_encoding_is_rejected(ws: WorkingState) -> None:
    assert_rejected(ws, send() + bytes([15 << 3, 1]), 4, "non-canonical transaction encoding in Tx")


def test_tx_without_messages_is_rejected(ws: WorkingState) -> None:
    assert_rejected(ws, signed_body(RICH, body_with()), 5, "no messages")


def test_empty_message_is_unknown(ws: WorkingState) -> None:
    assert_rejected(ws, signed_body(RICH, body_with(tx_pb2.Msg())), 6, "message 0", "does not know")


def test_too_many_messages_are_rejected(ws: WorkingState) -> None:
    body = body_with(*[coin_msg("uusd", "1")] * 33)
    assert_rejected(ws, signed_body(RICH, body), 7, "33 messages, at most 32")


def test_tx_for_another_chain_is_rejected(ws: WorkingState) -> None:
    assert_rejected(ws, send(chain_id="optio-main"), 8, "signed for chain 'optio-main'", CHAIN)


def test_public_key_of_wrong_length_is_rejected(ws: WorkingState) -> None:
    tx = tx_pb2.Tx.FromString(send())
    bad = tx_pb2.Tx(body=tx.body, pub_key=tx.pub_key[:31], signature=tx.signature)
    assert_rejected(ws, bad.SerializeToString(), 9, "32-byte ed25519 key, got 31 bytes")


def test_small_order_public_key_with_trivial_signature_is_rejected(ws: WorkingState) -> None:
    # ZIP-215 (chain/ed25519.py) verifies an all-zero signature under the all-zero key for any
    # message; without this check the account derived from that key would be spendable by anyone.
    zero_addr = address_from_public_key(bytes(32))
    body = body_with(coin_msg("uusd", "1", sender=zero_addr)).SerializeToString()
    forged = tx_pb2.Tx(body=body, pub_key=bytes(32), signature=bytes(64))
    assert_rejected(ws, forged.SerializeToString(), 9, "small-order")


def test_tampered_signature_is_rejected(ws: WorkingState) -> None:
    tx = tx_pb2.Tx.FromString(send())
    signature = bytes([tx.signature[0] ^ 1]) + tx.signature[1:]
    bad = tx_pb2.Tx(body=tx.body, pub_key=tx.pub_key, signature=signature)
    assert_rejected(ws, bad.SerializeToString(), 10, "invalid signature for signer", RICH_ADDR)


def test_sending_from_someone_elses_account_is_rejected(ws: WorkingState) -> None:
    body = body_with(coin_msg("uusd", "1", sender=POOR_ADDR))
    assert_rejected(ws, signed_body(RICH, body), 11, f"spends from {POOR_ADDR}", f"signed by {RICH_ADDR}")


def test_recipient_with_bad_checksum_is_rejected(ws: WorkingState) -> None:
    typo = OTHER_ADDR[:-1] + ("q" if OTHER_ADDR[-1] != "q" else "p")
    assert_rejected(ws, send(to=typo), 12, "invalid address", "checksum")


def test_memo_over_the_limit_is_rejected(ws: WorkingState) -> None:
    assert_rejected(ws, send(memo="é" * 129), 13, "memo is 258 bytes, at most 256")


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "greater than zero"),
        ("-5", "cannot be negative"),
        ("1.5", "not a whole number"),
        ("007", "not a whole number"),
        ("", "not a whole number"),
        (str(2**63), "exceeds the maximum amount 9223372036854775807"),
        ("9" * 5000, "exceeds the maximum amount"),
    ],
)
def test_invalid_send_amount_is_rejected(ws: WorkingState, amount: str, reason: str) -> None:
    body = body_with(coin_msg("uusd", amount))
    assert_rejected(ws, signed_body(RICH, body), 14, "invalid amount", reason)


def test_negative_fee_is_an_invalid_amount(ws: WorkingState) -> None:
    body = body_with(coin_msg("uusd", "1"), fee=tx_pb2.Coin(denom="uusd", amount="-100"))
    assert_rejected(ws, signed_body(RICH, body), 14, "cannot be negative")


def test_unknown_denom_is_rejected(ws: WorkingState) -> None:
    assert_rejected(ws, send(denom="ubtc"), 15, "unknown denomination 'ubtc'", "uopt, uusd")


def test_fee_in_staking_token_is_rejected(ws: WorkingState) -> None:
    body = body_with(coin_msg("uusd", "1"), fee=tx_pb2.Coin(denom="uopt", amount="100"))
    assert_rejected(ws, signed_body(RICH, body), 16, "fees are paid in uusd")


def test_nonce_zero_is_rejected(ws: WorkingState) -> None:
    message = build_send_msg(RICH_ADDR, OTHER_ADDR, 1, "uusd")
    body = build_tx_body(chain_id=CHAIN, nonce=0, fee=FEE, messages=[message])
    assert_rejected(ws, sign_tx(RICH, body), 17, "nonces start at 1")


def test_tx_after_its_timeout_height_is_expired(ws: WorkingState) -> None:
    assert_rejected(ws, send(timeout_height=9), 30, "valid up to height 9", "at height 10", height=10)


def test_tx_at_its_timeout_height_is_still_valid(ws: WorkingState) -> None:
    submit(ws, send(timeout_height=10), height=10)


def test_replayed_tx_is_rejected(ws: WorkingState) -> None:
    raw = send()
    submit(ws, raw)
    assert_rejected(ws, raw, 31, "nonce 1", "already used")


def test_nonce_below_the_window_is_too_old(ws: WorkingState) -> None:
    submit(ws, send(nonce=256))
    submit(ws, send(nonce=300))
    assert_rejected(ws, send(nonce=44), 32, "too old", "lowest nonce still accepted is 45")


def test_nonce_far_ahead_is_rejected(ws: WorkingState) -> None:
    assert_rejected(ws, send(nonce=257), 33, "too far ahead", "highest nonce accepted now is 256")


def test_fee_below_minimum_is_rejected(ws: WorkingState) -> None:
    assert_rejected(ws, send(fee=99), 34, "fee too low: 99 uusd offered, the minimum is 100 uusd")


def test_missing_fee_counts_as_zero(ws: WorkingState) -> None:
    assert_rejected(ws, send(fee=0), 34, "0 uusd offered")


def test_insufficient_funds_names_balance_amount_and_fee(ws: WorkingState) -> None:
    assert_rejected(
        ws,
        send(POOR, amount=60),
        35,
        f"insufficient funds: account {POOR_ADDR} has 150 uusd, needs 160 uusd (amount 60 + fee 100)",
    )


def test_sends_are_summed_per_denom_before_any_executes(ws: WorkingState) -> None:
    body = body_with(coin_msg("uopt", "5", POOR_ADDR), coin_msg("uopt", "5", POOR_ADDR))
    assert_rejected(ws, signed_body(POOR, body), 35, "has 7 uopt, needs 10 uopt (amount 10 + fee 0)")
