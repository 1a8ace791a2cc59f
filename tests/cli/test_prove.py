"""`q balance --prove` verifies a real store proof under the signed header of the next block."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain.address import format_address, parse_address
from chain.cli import main
from chain.light import Validator, header_hash, validator_set_hash, vote_sign_bytes
from state import keys
from state.codec import encode_u64
from state.store import Store
from tests.cli.fake_node import fake_node, status_result

ALICE = format_address(b"\x01" * 20)
BOB = format_address(b"\x02" * 20)


def committed_proofs(tmp_path: Path) -> tuple[bytes, dict[str, tuple[bytes | None, bytes, int]]]:
    """Commit alice=1234uusd at height 5; return the app hash and proofs for alice and bob."""
    store = Store(str(tmp_path / "db"))
    try:
        ws = store.working()
        ws.set(keys.balance_key(parse_address(ALICE), "uusd"), encode_u64(1234))
        ws.set(keys.balance_key(parse_address(BOB), "uopt"), encode_u64(1))
        app_hash = store.commit(ws, 5)
        proofs = {who: store.prove(keys.balance_key(parse_address(who), "uusd"))
                  for who in (ALICE, BOB)}
    finally:
        store.close()
    return app_hash, proofs


def signed_header(app_hash: bytes, height: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A one-validator header of ``height`` carrying ``app_hash``, with its signed commit."""
    key = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    pubkey = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    validator = Validator(hashlib.sha256(pubkey).digest()[:20], pubkey, 10)
    empty = hashlib.sha256(b"").hexdigest().upper()
    header = {
        "version": {"block": "11", "app": "1"}, "chain_id": "optio-test", "height": str(height),
        "time": "2026-01-02T03:04:05.123456789Z",
        "last_block_id": {"hash": "AA" * 32, "parts": {"total": 1, "hash": "BB" * 32}},
        "last_commit_hash": "CC" * 32, "data_hash": empty,
        "validators_hash": validator_set_hash([validator]).hex().upper(),
        "next_validators_hash": validator_set_hash([validator]).hex().upper(),
        "consensus_hash": "DD" * 32, "app_hash": app_hash.hex().upper(),
        "last_results_hash": empty, "evidence_hash": empty,
        "proposer_address": validator.address.hex().upper(),
    }
    block_id = {"hash": header_hash(header).hex().upper(), "parts": {"total": 1, "hash": "EE" * 32}}
    stamp = "2026-01-02T03:04:06Z"
    signature = key.sign(vote_sign_bytes("optio-test", height, 0, block_id, stamp))
    commit = {"height": str(height), "round": 0, "block_id": block_id, "signatures": [{
        "block_id_flag": 2, "validator_address": validator.address.hex().upper(),
        "timestamp": stamp, "signature": base64.b64encode(signature).decode()}]}
    validators = {"block_height": str(height), "total": "1", "validators": [{
        "address": validator.address.hex().upper(),
        "pub_key": {"type": "tendermint/PubKeyEd25519", "value": base64.b64encode(pubkey).decode()},
        "voting_power": "10", "proposer_priority": "0"}]}
    return {"signed_header": {"header": header, "commit": commit}, "canonical": True}, validators


def handlers(app_hash: bytes, proofs: dict[str, Any], claimed: dict[str, int]) -> dict[str, Any]:
    def abci_query(params: dict[str, Any]) -> dict[str, Any]:
        who = params["path"].split("/")[2]
        _, proof, height = proofs[who]
        return {"response": {
            "code": 0, "value": base64.b64encode(str(claimed[who]).encode()).decode(),
            "height": str(height),
            "proofOps": {"ops": [{
                "type": "optio:smt",
                "key": base64.b64encode(keys.balance_key(parse_address(who), "uusd")).decode(),
                "data": base64.b64encode(proof).decode()}]},
        }}

    commit, validators = signed_header(app_hash, 6)

    def checked(answer: dict[str, Any]) -> Any:
        def handler(params: dict[str, Any]) -> dict[str, Any]:
            assert params["height"] == "6"
            return answer
        return handler

    return {"abci_query": abci_query, "commit": checked(commit),
            "validators": checked(validators), "status": lambda p: status_result(height=6)}


def prove(url: str, who: str) -> Result:
    return CliRunner().invoke(main, ["--node", url, "q", "balance", who, "--prove"])


def test_true_balance_is_verified(tmp_path: Path) -> None:
    app_hash, proofs = committed_proofs(tmp_path)
    with fake_node(handlers(app_hash, proofs, {ALICE: 1234, BOB: 0})) as node:
        result = prove(node.url, ALICE)
    assert result.exit_code == 0, result.output
    assert "1234uusd" in result.output
    assert "verified at height 5" in result.output


def test_zero_balance_is_verified_by_absence(tmp_path: Path) -> None:
    app_hash, proofs = committed_proofs(tmp_path)
    with fake_node(handlers(app_hash, proofs, {ALICE: 1234, BOB: 0})) as node:
        result = prove(node.url, BOB)
    assert result.exit_code == 0, result.output
    assert "verified" in result.output


def test_inflated_balance_fails_loudly(tmp_path: Path) -> None:
    app_hash, proofs = committed_proofs(tmp_path)
    with fake_node(handlers(app_hash, proofs, {ALICE: 999_999, BOB: 0})) as node:
        result = prove(node.url, ALICE)
    assert result.exit_code == 3
    assert "PROOF FAILED" in result.output


def test_proof_against_another_app_hash_fails(tmp_path: Path) -> None:
    _, proofs = committed_proofs(tmp_path)
    with fake_node(handlers(b"\x00" * 32, proofs, {ALICE: 1234, BOB: 0})) as node:
        result = prove(node.url, ALICE)
    assert result.exit_code == 3


def test_header_altered_after_signing_fails(tmp_path: Path) -> None:
    app_hash, proofs = committed_proofs(tmp_path)
    served = handlers(app_hash, proofs, {ALICE: 1234, BOB: 0})
    commit, _ = signed_header(b"\x00" * 32, 6)
    commit["signed_header"]["header"]["app_hash"] = app_hash.hex().upper()
    served["commit"] = lambda p: commit
    with fake_node(served) as node:
        result = prove(node.url, ALICE)
    assert result.exit_code == 3
    assert "hashes to" in result.output
