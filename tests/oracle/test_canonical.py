"""Vote-extension sign bytes: what CometBFT v0.38 signs, checked against signatures a real
localnet produced (tests/oracle/data/extended_commit.json, captured from the oracle tx of a
4-validator localnet block) and against the protobuf library's own encoding."""

from __future__ import annotations

import json
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from hypothesis import given
from hypothesis import strategies as st

from chain.oracle.canonical import is_valid_extension_signature, vote_extension_sign_bytes
from chain.oracle.extension import decode_extension

CAPTURED = json.loads((Path(__file__).parent / "data" / "extended_commit.json").read_text())


def captured_votes() -> list[dict[str, object]]:
    return [v for v in CAPTURED["votes"] if v["block_id_flag"] == 2]


def check(vote: dict[str, object], extension: bytes | None = None,
          signature: bytes | None = None, **changes: object) -> bool:
    return is_valid_extension_signature(
        bytes.fromhex(str(vote["pub_key"])),
        signature if signature is not None else bytes.fromhex(str(vote["extension_signature"])),
        extension if extension is not None else bytes.fromhex(str(vote["vote_extension"])),
        int(changes.get("height", CAPTURED["height"])),  # type: ignore[call-overload]
        int(changes.get("round", CAPTURED["round"])),  # type: ignore[call-overload]
        str(changes.get("chain_id", CAPTURED["chain_id"])),
    )


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes((data[index] ^ 0x01,)) + data[index + 1:]


def test_signatures_made_by_cometbft_verify_over_our_sign_bytes() -> None:
    votes = captured_votes()
    assert len(votes) >= 3  # > 2/3 of 4 equal-power validators
    for vote in votes:
        assert check(vote)
        decode_extension(bytes.fromhex(str(vote["vote_extension"])), n_underlyings=2,
                         max_bytes=512)


def test_a_flipped_byte_anywhere_fails_verification() -> None:
    vote = captured_votes()[0]
    extension = bytes.fromhex(str(vote["vote_extension"]))
    signature = bytes.fromhex(str(vote["extension_signature"]))
    for index in range(len(extension)):
        assert not check(vote, extension=flip(extension, index))
    for index in (0, 31, 32, 63):
        assert not check(vote, signature=flip(signature, index))


def test_another_height_round_or_chain_fails_verification() -> None:
    vote = captured_votes()[0]
    assert not check(vote, height=CAPTURED["height"] + 1)
    assert not check(vote, round=1)
    assert not check(vote, chain_id="optio-other")


def test_another_validators_key_fails_verification() -> None:
    first, second = captured_votes()[:2]
    assert not check({**first, "pub_key": second["pub_key"]})


def _canonical_vote_extension_class() -> type:
    """CanonicalVoteExtension built with the protobuf library from its field list
    (tendermint/types/canonical.proto), to check our hand-written encoder against."""
    file = descriptor_pb2.FileDescriptorProto(name="canonical_test.proto", package="t",
                                              syntax="proto3")
    message = file.message_type.add(name="CanonicalVoteExtension")
    f = descriptor_pb2.FieldDescriptorProto
    for name, number, kind in (("extension", 1, f.TYPE_BYTES), ("height", 2, f.TYPE_SFIXED64),
                               ("round", 3, f.TYPE_SFIXED64), ("chain_id", 4, f.TYPE_STRING)):
        message.field.add(name=name, number=number, type=kind, label=f.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("t.CanonicalVoteExtension"))


CANONICAL = _canonical_vote_extension_class()


@given(st.binary(max_size=300), st.integers(-(2**63), 2**63 - 1),
       st.integers(-(2**63), 2**63 - 1), st.text(max_size=60))
def test_sign_bytes_are_the_length_delimited_protobuf_encoding(
    extension: bytes, height: int, round_: int, chain_id: str,
) -> None:
    body = CANONICAL(extension=extension, height=height, round=round_,
                     chain_id=chain_id).SerializeToString()
    ours = vote_extension_sign_bytes(extension, height, round_, chain_id)
    length = len(body)
    prefix = bytearray()
    while length >= 0x80:
        prefix.append((length & 0x7F) | 0x80)
        length >>= 7
    prefix.append(length)
    assert ours == bytes(prefix) + body
