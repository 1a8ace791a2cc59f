"""`q balance --prove` verifies a real store proof against the next header's app hash."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from chain.address import format_address, parse_address
from chain.cli import main
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

    def block(params: dict[str, Any]) -> dict[str, Any]:
        assert params["height"] == "6"
        return {"block": {"header": {"height": "6", "app_hash": app_hash.hex().upper()}}}

    return {"abci_query": abci_query, "block": block,
            "status": lambda p: status_result(height=6)}


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
