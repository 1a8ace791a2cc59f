"""The optio command through click's CliRunner against a fake node."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from chain.address import format_address
from chain.cli import main
from chain.keystore import Keyring
from chain.tx import decode_tx, tx_hash
from tests.cli.fake_node import RpcFailure, fake_node, status_result

CHAIN = "optio-test"


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    ring = Keyring(tmp_path, "test")
    ring.add("alice", seed=bytes(32))
    ring.add("bob", seed=bytes([1]) * 32)
    return tmp_path


def address(home: Path, name: str) -> str:
    return Keyring(home, "test").show(name).address


def query_value(value: bytes, code: int = 0, log: str = "") -> dict[str, Any]:
    return {"response": {"code": code, "log": log, "value": base64.b64encode(value).decode(),
                         "height": "6"}}


def chain_handlers(home: Path, check_code: int = 0, block_code: int = 0) -> dict[str, Any]:
    def abci_query(params: dict[str, Any]) -> dict[str, Any]:
        if params["path"].startswith("/account/"):
            return query_value(json.dumps({"address": "x", "next_nonce": 5}).encode())
        return query_value(json.dumps({"min_fee_uusd": 100}).encode())

    def broadcast(params: dict[str, Any]) -> dict[str, Any]:
        raw = base64.b64decode(params["tx"])
        log = f"insufficient funds: account {address(home, 'alice')} has 0 uusd" if check_code else ""
        return {"code": check_code, "log": log, "codespace": "optio" if check_code else "",
                "hash": tx_hash(raw)}

    def tx(params: dict[str, Any]) -> dict[str, Any]:
        return {"hash": "AB", "height": "8", "index": 0,
                "tx_result": {"code": block_code, "codespace": "optio",
                              "log": "insufficient funds: account x has 1 uusd" if block_code else ""}}

    return {"status": lambda p: status_result(CHAIN), "abci_query": abci_query,
            "broadcast_tx_sync": broadcast, "tx": tx}


def test_keys_list_json_is_one_object(home: Path) -> None:
    result = run("--home", str(home), "--keyring-backend", "test", "-o", "json", "keys", "list")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [k["name"] for k in data["keys"]] == ["alice", "bob"]


def test_common_options_work_after_the_command(home: Path) -> None:
    result = run("keys", "show", "bob", "-a", "--home", str(home), "--keyring-backend", "test")
    assert result.output.strip() == address(home, "bob")


def test_keys_add_with_file_backend_reads_the_passphrase_from_env(tmp_path: Path) -> None:
    env = {"OPTIO_KEYRING_PASSPHRASE": "passphrase-for-tests"}
    result = run("--home", str(tmp_path), "-o", "json", "keys", "add", "carol", env=env)
    assert result.exit_code == 0
    created = json.loads(result.stdout)
    assert Keyring(tmp_path).seed("carol", "passphrase-for-tests")
    assert created["address"].startswith("optio1")


def test_keys_add_recover_restores_the_same_address(tmp_path: Path, home: Path) -> None:
    result = run("--home", str(tmp_path), "--keyring-backend", "test", "-o", "json",
                 "keys", "add", "again", "--recover", stdin=bytes(32).hex() + "\n")
    assert json.loads(result.stdout)["address"] == address(home, "alice")


def test_keys_export_unsafe_prints_the_seed(home: Path) -> None:
    result = run("--home", str(home), "--keyring-backend", "test", "keys", "export", "bob",
                 "--unsafe")
    assert (bytes([1]) * 32).hex() in result.output


def test_keys_delete_asks_for_confirmation(home: Path) -> None:
    refused = run("--home", str(home), "--keyring-backend", "test", "keys", "delete", "bob",
                  stdin="n\n")
    assert refused.exit_code != 0
    assert Keyring(home, "test").has("bob")
    run("--home", str(home), "--keyring-backend", "test", "keys", "delete", "bob", "--yes")
    assert not Keyring(home, "test").has("bob")


def test_status_json_reports_chain_and_height() -> None:
    with fake_node({"status": lambda p: status_result(CHAIN, 33)}) as node:
        result = run("--node", node.url, "-o", "json", "status")
    data = json.loads(result.stdout)
    assert (data["chain_id"], data["latest_height"]) == (CHAIN, 33)


def test_unreachable_node_fails_with_a_clear_message() -> None:
    result = run("--node", "http://127.0.0.1:9", "status")
    assert result.exit_code == 1
    assert "cannot reach the node at http://127.0.0.1:9" in result.output


def test_tx_send_signs_with_chain_nonce_and_minimum_fee_and_waits(home: Path) -> None:
    with fake_node(chain_handlers(home)) as node:
        result = run("--home", str(home), "--keyring-backend", "test", "--node", node.url,
                     "-o", "json", "tx", "send", "alice", address(home, "bob"), "250uusd",
                     "--memo", "hi", "--wait")
        raw = base64.b64decode(node.params_of("broadcast_tx_sync")[0]["tx"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["height"] == 8
    signed = decode_tx(raw, CHAIN, 16_384)
    assert (signed.nonce, signed.fee, signed.memo) == (5, 100, "hi")
    assert signed.signer == address(home, "alice")
    assert (signed.messages[0].amount, signed.messages[0].to_address) == (250, address(home, "bob"))


def test_tx_rejected_at_check_tx_prints_numbered_error_and_fails(home: Path) -> None:
    with fake_node(chain_handlers(home, check_code=35)) as node:
        result = run("--home", str(home), "--keyring-backend", "test", "--node", node.url,
                     "tx", "send", "alice", address(home, "bob"), "1uusd", "--nonce", "3",
                     "--fee", "100uusd", "--chain-id", CHAIN)
    assert result.exit_code == 2
    assert f"error 35 (insufficient funds): account {address(home, 'alice')} has 0 uusd" in result.output


def test_tx_failing_in_the_block_fails_with_its_height(home: Path) -> None:
    with fake_node(chain_handlers(home, block_code=35)) as node:
        result = run("--home", str(home), "--keyring-backend", "test", "--node", node.url,
                     "-o", "json", "tx", "send", "alice", address(home, "bob"), "1uusd", "--wait")
    assert result.exit_code == 2
    first_line = result.stdout.splitlines()[0]
    assert json.loads(first_line)["stage"] == "block"
    assert "failed in block 8: error 35 (insufficient funds)" in result.output


def test_mistyped_recipient_is_refused_before_signing(home: Path) -> None:
    with fake_node(chain_handlers(home)) as node:
        result = run("--home", str(home), "--keyring-backend", "test", "--node", node.url,
                     "tx", "send", "alice", address(home, "bob")[:-1] + "q", "1uusd")
        assert node.params_of("broadcast_tx_sync") == []
    assert result.exit_code == 2
    assert "error 12 (invalid address)" in result.output


def test_query_error_is_shown_with_its_code() -> None:
    failing = {"abci_query": lambda p: query_value(b"", code=101, log="unknown query path /x")}
    with fake_node(failing) as node:
        result = run("--node", node.url, "q", "account", format_address(bytes(20)))
    assert result.exit_code == 2
    assert "error 101" in result.output


def test_node_error_on_tx_lookup_is_not_mistaken_for_pending(home: Path) -> None:
    handlers = chain_handlers(home)
    handlers["tx"] = lambda p: RpcFailure(-32603, "Internal error", "tx_index disabled")
    with fake_node(handlers) as node:
        result = run("--home", str(home), "--keyring-backend", "test", "--node", node.url,
                     "tx", "send", "alice", address(home, "bob"), "1uusd", "--wait")
    assert result.exit_code == 1
    assert "tx_index disabled" in result.output


def test_exported_armor_imports_into_another_home(home: Path, tmp_path: Path) -> None:
    exported = run("--home", str(home), "--keyring-backend", "test", "keys", "export", "bob",
                   stdin="armor-secret\narmor-secret\n")
    armor = tmp_path / "bob.armor"
    armor.write_text(exported.stdout)
    other = tmp_path / "other"
    imported = run("--home", str(other), "--keyring-backend", "test", "-o", "json",
                   "keys", "import", "bob", str(armor), stdin="armor-secret\n")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["address"] == address(home, "bob")
