"""Tx codec: what the wallet builds, the node decodes to the same values; only canonical bytes pass."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.address import address_from_public_key, format_address
from chain.ed25519 import verify_signature
from chain.proto import tx_pb2
from chain.tx import (
    SIGN_DOMAIN,
    Send,
    build_send_msg,
    build_send_tx,
    build_tx_body,
    decode_tx,
    parse_amount,
    public_key_bytes,
    sign_tx,
    signature_claim,
    tx_hash,
)
from state.denoms import MAX_AMOUNT
from state.errors import (
    InvalidAmount,
    InvalidPublicKey,
    InvalidSignature,
    MalformedTx,
    NonCanonicalTx,
    OptioError,
)

CHAIN = "optio-test-1"
LIMIT = 1 << 20
SEED = bytes(range(32))
RECIPIENT = format_address(bytes(20))


@settings(max_examples=150)
@given(
    seed=st.binary(min_size=32, max_size=32),
    nonce=st.integers(min_value=1, max_value=2**64 - 1),
    amount=st.integers(min_value=1, max_value=MAX_AMOUNT),
    denom=st.sampled_from(["uusd", "uopt"]),
    fee=st.integers(min_value=0, max_value=MAX_AMOUNT),
    memo=st.text(max_size=60),
    timeout_height=st.integers(min_value=0, max_value=2**64 - 1),
    recipient=st.binary(min_size=20, max_size=20),
)
def test_built_send_tx_decodes_to_the_same_values(
    seed: bytes,
    nonce: int,
    amount: int,
    denom: str,
    fee: int,
    memo: str,
    timeout_height: int,
    recipient: bytes,
) -> None:
    raw = build_send_tx(
        seed,
        chain_id=CHAIN,
        nonce=nonce,
        to=format_address(recipient),
        amount=amount,
        denom=denom,
        fee=fee,
        memo=memo,
        timeout_height=timeout_height,
    )
    tx = decode_tx(raw, CHAIN, LIMIT, max_memo_bytes=1024)
    signer = address_from_public_key(public_key_bytes(seed))
    assert tx.signer == signer
    assert (tx.nonce, tx.fee, tx.memo, tx.timeout_height) == (nonce, fee, memo, timeout_height)
    assert tx.messages == (Send(tx.signer_id, recipient, denom, amount),)
    assert tx.hash == hashlib.sha256(raw).digest()
    assert tx.size == len(raw)


def test_tx_hash_is_upper_case_hex_sha256_like_cometbft() -> None:
    raw = build_send_tx(SEED, chain_id=CHAIN, nonce=1, to=RECIPIENT, amount=1, denom="uusd")
    assert tx_hash(raw) == hashlib.sha256(raw).hexdigest().upper()
    assert len(tx_hash(raw)) == 64


def test_signing_is_deterministic_so_the_same_tx_has_one_hash() -> None:
    def build(key: Ed25519PrivateKey | bytes) -> bytes:
        return build_send_tx(key, chain_id=CHAIN, nonce=7, to=RECIPIENT, amount=3, denom="uopt", fee=100)

    assert build(SEED) == build(SEED) == build(Ed25519PrivateKey.from_private_bytes(SEED))


def test_signature_covers_domain_tag_and_body() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    sender = address_from_public_key(public_key_bytes(key))
    body = build_tx_body(chain_id=CHAIN, nonce=1, messages=[build_send_msg(sender, RECIPIENT, 1, "uusd")])
    tx = tx_pb2.Tx.FromString(sign_tx(key, body))
    key.public_key().verify(tx.signature, SIGN_DOMAIN + body)
    untagged = tx_pb2.Tx(body=body, pub_key=tx.pub_key, signature=key.sign(body))
    with pytest.raises(InvalidSignature):
        decode_tx(untagged.SerializeToString(), CHAIN, LIMIT)


def test_small_order_key_is_refused_although_its_trivial_signature_verifies() -> None:
    """Under ZIP-215 (chain/ed25519.py) the all-zero key, a point of order 4, verifies the
    all-zero signature over any message: its account would be anyone's. decode_tx refuses
    the key itself."""
    zero_key = bytes(32)
    sender = address_from_public_key(zero_key)
    body = build_tx_body(chain_id=CHAIN, nonce=1,
                         messages=[build_send_msg(sender, RECIPIENT, 1, "uusd")])
    assert verify_signature(zero_key, bytes(64), SIGN_DOMAIN + body)
    raw = tx_pb2.Tx(body=body, pub_key=zero_key, signature=bytes(64)).SerializeToString()
    with pytest.raises(InvalidPublicKey):
        decode_tx(raw, CHAIN, LIMIT)
    # Nor is it put in a CheckTx signature batch, where it would only spoil the batch.
    assert signature_claim(raw) is None


def test_signature_claim_is_what_decode_tx_verifies() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
    raw = build_send_tx(key, chain_id=CHAIN, nonce=1, to=RECIPIENT, amount=1, denom="uusd")
    tx = tx_pb2.Tx.FromString(raw)
    assert signature_claim(raw) == (tx.pub_key, tx.signature, SIGN_DOMAIN + tx.body)
    assert signature_claim(b"\xffgarbage") is None


def _unknown_field() -> bytes:
    # Field 15, wire type 0 (varint), value 1: valid protobuf, unknown to Tx and TxBody.
    return bytes([15 << 3, 1])


def test_unknown_field_appended_to_tx_is_non_canonical() -> None:
    raw = build_send_tx(SEED, chain_id=CHAIN, nonce=1, to=RECIPIENT, amount=1, denom="uusd")
    with pytest.raises(NonCanonicalTx, match="in Tx"):
        decode_tx(raw + _unknown_field(), CHAIN, LIMIT)


def test_reordered_tx_fields_are_non_canonical_even_with_a_valid_signature() -> None:
    tx = tx_pb2.Tx.FromString(
        build_send_tx(SEED, chain_id=CHAIN, nonce=1, to=RECIPIENT, amount=1, denom="uusd")
    )
    # Same three fields, signature first: parses to the same message, different bytes and hash.
    reordered = (
        tx_pb2.Tx(signature=tx.signature).SerializeToString()
        + tx_pb2.Tx(body=tx.body, pub_key=tx.pub_key).SerializeToString()
    )
    assert tx_pb2.Tx.FromString(reordered) == tx
    with pytest.raises(NonCanonicalTx, match="in Tx"):
        decode_tx(reordered, CHAIN, LIMIT)


def test_signed_body_with_explicit_default_value_is_non_canonical() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    sender = address_from_public_key(public_key_bytes(key))
    body = build_tx_body(chain_id=CHAIN, nonce=1, messages=[build_send_msg(sender, RECIPIENT, 1, "uusd")])
    # timeout_height (field 5, varint) written explicitly as 0: proto3 omits defaults.
    padded = body + bytes([5 << 3, 0])
    with pytest.raises(NonCanonicalTx, match="in TxBody"):
        decode_tx(sign_tx(key, padded), CHAIN, LIMIT)


def _decode_or_reject(raw: bytes) -> None:
    """Any outcome but a non-OptioError exception is fine: that one would stop the node."""
    try:
        decode_tx(raw, CHAIN, LIMIT)
    except OptioError:
        pass


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_decoded_or_rejected_with_a_code(raw: bytes) -> None:
    _decode_or_reject(raw)


@settings(max_examples=300)
@given(st.data())
def test_mutated_valid_tx_is_decoded_or_rejected_with_a_code(data: st.DataObject) -> None:
    raw = bytearray(build_send_tx(SEED, chain_id=CHAIN, nonce=1, to=RECIPIENT, amount=9, denom="uusd", fee=5))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[position] = data.draw(st.integers(min_value=0, max_value=255))
    _decode_or_reject(bytes(raw))


@settings(max_examples=300)
@given(st.binary(max_size=300), st.binary(max_size=40), st.binary(max_size=70))
def test_signed_arbitrary_body_is_decoded_or_rejected_with_a_code(body: bytes, pub: bytes, sig: bytes) -> None:
    _decode_or_reject(tx_pb2.Tx(body=body, pub_key=pub, signature=sig).SerializeToString())
    _decode_or_reject(sign_tx(SEED, body))


def test_memo_with_invalid_utf8_is_malformed() -> None:
    body = build_tx_body(chain_id=CHAIN, nonce=1, messages=[])
    # memo (field 4, length-delimited) holding a lone continuation byte.
    with pytest.raises(MalformedTx, match="TxBody"):
        decode_tx(sign_tx(SEED, body + bytes([4 << 3 | 2, 1, 0x80])), CHAIN, LIMIT)


@pytest.mark.parametrize(("text", "allow_zero", "expected"), [
    ("1", False, 1), ("10", False, 10), (str(MAX_AMOUNT), False, MAX_AMOUNT),
    ("0", True, 0), ("0", False, "greater than zero"), (str(MAX_AMOUNT + 1), False, "maximum"),
    ("9" * 40, False, "maximum"), ("01", False, "leading zeros"), ("00", True, "leading zeros"),
    ("-1", False, "negative"), ("+1", False, "digits only"), (" 1", False, "digits only"),
    ("", True, "digits only"), ("\u0663", False, "digits only"), ("1\u00b2", False, "digits only"),
])
def test_amounts_are_canonical_ascii_decimals_within_bounds(
        text: str, allow_zero: bool, expected: int | str) -> None:
    """parse_amount's fast path (plain ASCII digits) and its error analysis agree."""
    if isinstance(expected, int):
        assert parse_amount(text, "uusd", allow_zero=allow_zero) == expected
    else:
        with pytest.raises(InvalidAmount, match=expected):
            parse_amount(text, "uusd", allow_zero=allow_zero)
