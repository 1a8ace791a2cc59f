"""Header and commit verification against data recorded from a real 4-validator localnet."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from chain.canonical import merkle_root, parse_timestamp
from chain.light import (
    ProofFailure,
    Validator,
    header_hash,
    validator_set_hash,
    verify_signed_header,
)

# `commit` and `validators` answers of CometBFT v0.38.26 at height 6 of `optio localnet up`.
RECORDED = json.loads((Path(__file__).parent / "data" / "localnet_commit_h6.json").read_text())


@pytest.fixture()
def signed_header() -> dict[str, Any]:
    return copy.deepcopy(RECORDED["commit"]["signed_header"])


@pytest.fixture()
def validators() -> list[Validator]:
    return [Validator.from_json(v) for v in RECORDED["validators"]["validators"]]


def test_header_hash_equals_the_block_id_cometbft_signed(signed_header: dict[str, Any]) -> None:
    assert header_hash(signed_header["header"]).hex().upper() == \
        signed_header["commit"]["block_id"]["hash"]


def test_validator_set_hash_equals_the_headers(signed_header: dict[str, Any],
                                               validators: list[Validator]) -> None:
    assert validator_set_hash(validators).hex().upper() == \
        signed_header["header"]["validators_hash"]


def test_recorded_commit_verifies(signed_header: dict[str, Any],
                                  validators: list[Validator]) -> None:
    verify_signed_header(signed_header, validators)


def test_altered_app_hash_is_caught(signed_header: dict[str, Any],
                                   validators: list[Validator]) -> None:
    signed_header["header"]["app_hash"] = "00" * 32
    with pytest.raises(ProofFailure, match="hashes to"):
        verify_signed_header(signed_header, validators)


def test_forged_signature_is_caught(signed_header: dict[str, Any],
                                    validators: list[Validator]) -> None:
    signatures = signed_header["commit"]["signatures"]
    signatures[1]["signature"] = signatures[0]["signature"]
    with pytest.raises(ProofFailure, match="bad signature"):
        verify_signed_header(signed_header, validators)


def test_two_of_four_signers_are_not_enough(signed_header: dict[str, Any],
                                            validators: list[Validator]) -> None:
    for sig in signed_header["commit"]["signatures"][2:]:
        sig["block_id_flag"] = 1
    with pytest.raises(ProofFailure, match="only 2 of 4"):
        verify_signed_header(signed_header, validators)


def test_three_of_four_signers_are_enough(signed_header: dict[str, Any],
                                          validators: list[Validator]) -> None:
    signed_header["commit"]["signatures"][3]["block_id_flag"] = 1
    verify_signed_header(signed_header, validators)


def test_substituted_validator_set_is_caught(signed_header: dict[str, Any],
                                             validators: list[Validator]) -> None:
    fake = [Validator(v.address, v.pubkey, v.power * 10) for v in validators]
    with pytest.raises(ProofFailure, match="validators_hash"):
        verify_signed_header(signed_header, fake)


def test_merkle_root_of_rfc6962_shapes() -> None:
    leaf = [hashlib.sha256(b"\x00" + bytes([i])).digest() for i in range(3)]
    left = hashlib.sha256(b"\x01" + leaf[0] + leaf[1]).digest()
    expected = hashlib.sha256(b"\x01" + left + leaf[2]).digest()
    assert merkle_root([b"\x00", b"\x01", b"\x02"]) == expected
    assert merkle_root([]) == hashlib.sha256(b"").digest()


def test_timestamps_keep_nanoseconds() -> None:
    assert parse_timestamp("1970-01-01T00:00:01.000000123Z") == (1, 123)
    assert parse_timestamp("1970-01-01T00:01:00Z") == (60, 0)
