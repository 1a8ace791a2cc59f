"""The injected-tx envelope: recognized, canonical, and never confused with a user Tx."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain import ordering
from chain.address import format_address
from chain.proto import injected_pb2, tx_pb2
from chain.tx import build_send_tx, decode_tx
from state.errors import OptioError

OUTPUT = ordering.VdfOutput(y=bytes(range(100)), proof=bytes(range(100, 200)))


def test_ordering_tx_round_trips() -> None:
    raw = ordering.encode_ordering_tx(OUTPUT, 20_000)
    assert raw.startswith(ordering.INJECTED_TX_MAGIC)
    assert ordering.is_injected_tx(raw)
    assert ordering.decode_ordering_tx(raw) == ordering.OrderingTx(OUTPUT.y, OUTPUT.proof, 20_000)
    assert len(raw) == ordering.ordering_tx_size(20_000)


def test_user_cannot_submit_an_injected_tx() -> None:
    """decode_tx (CheckTx's stateless step) refuses injected bytes too; the app also rejects
    them by `is_injected_tx` before decoding."""
    raw = ordering.encode_ordering_tx(OUTPUT, 20_000)
    with pytest.raises(OptioError):
        decode_tx(raw, "optio-test", 16_384)


@given(body=st.binary(max_size=300), pub_key=st.binary(max_size=40),
       signature=st.binary(max_size=80))
def test_no_user_tx_encoding_is_injected(body: bytes, pub_key: bytes, signature: bytes) -> None:
    raw = tx_pb2.Tx(body=body, pub_key=pub_key, signature=signature).SerializeToString(
        deterministic=True)
    assert not ordering.is_injected_tx(raw)


@given(seed=st.binary(min_size=32, max_size=32), nonce=st.integers(1, 2**64 - 1),
       amount=st.integers(1, 10**12), memo=st.text(max_size=40))
def test_no_signed_send_tx_is_injected(seed: bytes, nonce: int, amount: int, memo: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(seed)
    raw = build_send_tx(key, chain_id="optio-test", nonce=nonce,
                        to=format_address(bytes(20)), amount=amount,
                        denom="uusd", memo=memo)
    assert raw[0] == 0x0A
    assert not ordering.is_injected_tx(raw)


@given(st.binary(max_size=400))
def test_decoding_arbitrary_bytes_raises_only_malformed(tail: bytes) -> None:
    for raw in (tail, ordering.INJECTED_TX_MAGIC + tail):
        try:
            ordering.decode_injected_tx(raw)
        except ordering.MalformedInjectedTx:
            pass
        try:
            ordering.decode_ordering_tx(raw)
        except ordering.MalformedInjectedTx:
            pass


@pytest.mark.parametrize("raw", [
    b"",
    b"\x00",
    ordering.INJECTED_TX_MAGIC,  # no kind
    b"\x00optio-inj\x02" + injected_pb2.InjectedTx(
        ordering=injected_pb2.OrderingTx(y=OUTPUT.y, proof=OUTPUT.proof, iterations=1)
    ).SerializeToString(),  # unknown envelope version
    ordering.encode_ordering_tx(OUTPUT, 5) + b"\x78\x01",  # unknown field 15
    ordering.encode_ordering_tx(OUTPUT, 5)[:-1],  # truncated
    ordering.encode_injected_tx(injected_pb2.InjectedTx(
        ordering=injected_pb2.OrderingTx(y=OUTPUT.y[:99], proof=OUTPUT.proof, iterations=5))),
    ordering.encode_injected_tx(injected_pb2.InjectedTx(
        ordering=injected_pb2.OrderingTx(y=OUTPUT.y, proof=OUTPUT.proof + b"\x00",
                                         iterations=5))),
])
def test_malformed_ordering_txs_are_refused(raw: bytes) -> None:
    with pytest.raises(ordering.MalformedInjectedTx):
        ordering.decode_ordering_tx(raw)


def test_non_canonical_encoding_is_refused() -> None:
    canonical = ordering.encode_ordering_tx(OUTPUT, 5)
    body = canonical[len(ordering.INJECTED_TX_MAGIC):]
    inner = injected_pb2.OrderingTx(y=OUTPUT.y, proof=OUTPUT.proof, iterations=5)
    # The same fields, iterations first: parses to the same message, different bytes.
    fields = inner.SerializeToString(deterministic=True)
    reordered_inner = fields[-2:] + fields[:-2]
    length = len(reordered_inner)
    assert 128 <= length < 16_384
    reordered = b"\x0a" + bytes([length & 0x7F | 0x80, length >> 7]) + reordered_inner
    assert reordered[:3] == body[:3]
    assert reordered != body
    with pytest.raises(ordering.MalformedInjectedTx):
        ordering.decode_ordering_tx(ordering.INJECTED_TX_MAGIC + reordered)
