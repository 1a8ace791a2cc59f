"""The double-sign drill's pieces without a network: key file, sign bytes, vote order, JSON."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain.light import vote_sign_bytes
from localnet.evidence import (
    ConsensusKey,
    EvidenceError,
    block_id_key,
    fake_block_id,
    prevote_sign_bytes,
    signed_prevote,
)

TIME = "2026-11-21T05:40:01.123456789Z"


def write_key(path: Path, seed: bytes) -> bytes:
    """A priv_validator_key.json as `cometbft init` writes it; returns the public key."""
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)
    path.write_text(json.dumps({
        "address": hashlib.sha256(public).digest()[:20].hex().upper(),
        "pub_key": {"type": "tendermint/PubKeyEd25519",
                    "value": base64.b64encode(public).decode()},
        "priv_key": {"type": "tendermint/PrivKeyEd25519",
                     "value": base64.b64encode(seed + public).decode()},
    }))
    return public


def test_consensus_key_is_read_from_cometbfts_key_file(tmp_path: Path) -> None:
    public = write_key(tmp_path / "k.json", bytes(range(32)))
    key = ConsensusKey.from_file(tmp_path / "k.json")
    assert key.public_key == public
    assert key.address == hashlib.sha256(public).digest()[:20]


def test_a_key_file_whose_halves_disagree_is_refused(tmp_path: Path) -> None:
    write_key(tmp_path / "k.json", bytes(32))
    raw = json.loads((tmp_path / "k.json").read_text())
    raw["pub_key"]["value"] = base64.b64encode(b"\x01" * 32).decode()
    (tmp_path / "k.json").write_text(json.dumps(raw))
    with pytest.raises(EvidenceError):
        ConsensusKey.from_file(tmp_path / "k.json")


def test_prevote_sign_bytes_differ_from_a_precommits_only_in_the_type() -> None:
    block_id = fake_block_id(b"A", 7)
    prevote = prevote_sign_bytes("optio-test", 7, 0, block_id, TIME)
    precommit = vote_sign_bytes("optio-test", 7, 0, block_id, TIME)
    # Length prefix, then field 1 (tag 0x08) = type: 1 for prevote, 2 for precommit.
    assert precommit[1:3] == b"\x08\x02"
    assert prevote == precommit[:2] + b"\x01" + precommit[3:]


def test_signed_prevote_verifies_under_the_validator_key(tmp_path: Path) -> None:
    public = write_key(tmp_path / "k.json", b"\x07" * 32)
    key = ConsensusKey.from_file(tmp_path / "k.json")
    block_id = fake_block_id(b"B", 12)
    vote = signed_prevote(key, chain_id="c", height=12, round_=0, block_id=block_id,
                          timestamp=TIME, index=3)
    assert vote["height"] == "12" and vote["validator_index"] == 3 and vote["type"] == 1
    assert vote["validator_address"] == key.address.hex().upper()
    Ed25519PublicKey.from_public_bytes(public).verify(
        base64.b64decode(vote["signature"]), prevote_sign_bytes("c", 12, 0, block_id, TIME))


def test_the_two_fake_block_ids_are_complete_distinct_and_ordered_by_key() -> None:
    a, b = fake_block_id(b"A", 5), fake_block_id(b"B", 5)
    assert a != b and a != fake_block_id(b"A", 6)
    for block_id in (a, b):
        assert len(bytes.fromhex(block_id["hash"])) == 32
        assert len(bytes.fromhex(block_id["parts"]["hash"])) == 32
        assert block_id["parts"]["total"] == 1
    assert block_id_key(a) != block_id_key(b)
    assert block_id_key(a)[:32] == bytes.fromhex(a["hash"])
