"""Genesis app_state: strict validation with JSON paths, round trip, and InitChain writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chain.address import format_address, parse_address
from genesis.presets import LOCALNET_UOPT_PER_ACCOUNT, LOCALNET_UUSD_PER_ACCOUNT, localnet_app_genesis
from genesis.process import process_genesis
from genesis.schema import AppGenesis
from state.accounts import get_balances, get_fee_pool, get_supply, is_supply_conserved
from state.denoms import MAX_AMOUNT, Coin
from state.errors import GenesisDuplicateAccount, GenesisError
from state.params import Params, get_chain_id, get_params
from state.store import Store

ALICE = format_address(bytes([1]) * 20)
BOB = format_address(bytes([2]) * 20)


def genesis_json(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "params": {"min_fee_uusd": "50"},
        "accounts": [
            {"address": ALICE, "balances": [{"denom": "uusd", "amount": "1000"}]},
            {"address": BOB, "balances": [{"denom": "uopt", "amount": "7"}]},
        ],
    }
    obj.update(overrides)
    return obj


def test_valid_genesis_round_trips_through_json() -> None:
    genesis = AppGenesis.from_json(genesis_json())
    assert genesis.params == Params(min_fee_uusd=50)
    assert genesis.accounts[0].balances == (Coin("uusd", 1000),)
    assert AppGenesis.from_json(json.loads(json.dumps(genesis.to_json()))) == genesis


def test_missing_or_empty_app_state_is_an_empty_chain_with_default_params() -> None:
    assert AppGenesis.from_json_bytes(b"") == AppGenesis()
    assert AppGenesis.from_json({}) == AppGenesis(params=Params(), accounts=())


def test_params_accept_json_integers_too() -> None:
    assert AppGenesis.from_json({"params": {"nonce_window": 64}}).params.nonce_window == 64


def _account(address: str = ALICE, denom: str = "uusd", amount: str = "5") -> dict[str, Any]:
    return {"address": address, "balances": [{"denom": denom, "amount": amount}]}


@pytest.mark.parametrize(
    ("obj", "code", "path", "reason"),
    [
        ({"accounts": [_account("optio1xyz")]}, 61, "app_state.accounts[0].address", "invalid address"),
        ({"accounts": [_account(ALICE.upper()[:-1] + "Q")]}, 61, "accounts[0].address", "checksum"),
        ({"accounts": [{"address": 7}]}, 61, "accounts[0].address", "optio1"),
        ({"accounts": [_account(), _account(BOB), _account(ALICE)]}, 62, "accounts[2]", "already listed at accounts[0]"),
        ({"accounts": [_account(amount="-5")]}, 63, "balances[0].amount", "cannot be negative"),
        ({"accounts": [_account(amount="0")]}, 63, "balances[0].amount", "zero balance"),
        ({"accounts": [_account(amount="1e6")]}, 63, "balances[0].amount", "not a whole decimal number"),
        ({"accounts": [{"address": ALICE, "balances": [{"denom": "uusd", "amount": 5}]}]}, 63, "amount", "decimal string"),
        ({"accounts": [_account(amount=str(MAX_AMOUNT + 1))]}, 63, "amount", "exceeds the maximum"),
        (
            {"accounts": [{"address": ALICE, "balances": [{"denom": "uusd", "amount": "1"}] * 2}]},
            63,
            "balances[1]",
            "second balance in uusd",
        ),
        ({"accounts": [_account(denom="ubtc")]}, 64, "balances[0].denom", "unknown denom \"ubtc\""),
        ({"params": {"max_gas": "5"}}, 65, "app_state.params.max_gas", "unknown parameter"),
        ({"params": {"min_fee_uusd": "-1"}}, 66, "params.min_fee_uusd", "between 0 and"),
        ({"params": {"nonce_window": "12"}}, 66, "params.nonce_window", "multiple of 8"),
        ({"params": {"max_tx_bytes": "big"}}, 66, "params.max_tx_bytes", "not a whole decimal number"),
        ({"params": {"max_tx_bytes": True}}, 66, "params.max_tx_bytes", "decimal string"),
        (
            {"accounts": [_account(amount=str(MAX_AMOUNT)), _account(BOB, amount="1")]},
            67,
            "app_state.accounts",
            "total uusd supply",
        ),
        ({"validators": []}, 60, "app_state", "unknown field 'validators'"),
        ({"accounts": {}}, 60, "app_state.accounts", "expected a JSON list"),
        ([], 60, "app_state", "expected a JSON object"),
    ],
)
def test_invalid_genesis_is_rejected_with_code_and_path(obj: Any, code: int, path: str, reason: str) -> None:
    with pytest.raises(GenesisError) as info:
        AppGenesis.from_json(obj)
    assert info.value.code == code
    assert path in info.value.path
    assert reason in info.value.message


def test_invalid_json_bytes_are_a_genesis_error() -> None:
    with pytest.raises(GenesisError, match="not valid JSON"):
        AppGenesis.from_json_bytes(b"{not json")


def test_duplicate_detection_uses_the_account_not_the_spelling() -> None:
    with pytest.raises(GenesisDuplicateAccount):
        AppGenesis.from_json({"accounts": [_account(ALICE), _account(ALICE.upper())]})


def test_process_genesis_writes_params_chain_id_balances_and_supply(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "db"))
    ws = store.working()
    process_genesis(ws, AppGenesis.from_json(genesis_json()), chain_id="optio-test-1")
    store.commit(ws, 1)
    committed = store.working()
    assert get_params(committed) == Params(min_fee_uusd=50)
    assert get_chain_id(committed) == "optio-test-1"
    assert get_balances(committed, ALICE) == (Coin("uusd", 1000),)
    assert get_balances(committed, parse_address(BOB)) == (Coin("uopt", 7),)
    assert (get_supply(committed, "uusd"), get_supply(committed, "uopt")) == (1000, 7)
    assert get_fee_pool(committed, "uusd") == 0
    assert is_supply_conserved(committed)
    store.close()


def test_same_genesis_gives_the_same_app_hash(tmp_path: Path) -> None:
    hashes = []
    for name in ("a", "b"):
        store = Store(str(tmp_path / name))
        ws = store.working()
        process_genesis(ws, AppGenesis.from_json(genesis_json()), chain_id="c")
        hashes.append(store.commit(ws, 1))
        store.close()
    assert hashes[0] == hashes[1]


def test_localnet_preset_funds_every_address_in_both_denoms() -> None:
    genesis = localnet_app_genesis([ALICE, BOB])
    assert [a.address for a in genesis.accounts] == [ALICE, BOB]
    for account in genesis.accounts:
        assert account.balances == (
            Coin("uopt", LOCALNET_UOPT_PER_ACCOUNT),
            Coin("uusd", LOCALNET_UUSD_PER_ACCOUNT),
        )


def test_localnet_preset_rejects_a_bad_address() -> None:
    with pytest.raises(GenesisError, match="accounts\\[1\\].address"):
        localnet_app_genesis([ALICE, "optio1nope"])
