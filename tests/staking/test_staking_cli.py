"""`optio tx staking` / `optio q staking` through click against a fake RPC node whose ABCI
side is the real in-process app: create-validator from a priv_validator_key.json, delegate,
numbered rejections, and the query renderings."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from abci.proto import abci_pb2
from chain.cli import main
from chain.keystore import Keyring
from chain.tx import tx_hash
from tests.cli.fake_node import fake_node, status_result
from tests.staking.driver import CHAIN_ID, Chain, account_key, address, cons_pub

OPT = 10**6


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    made = Chain(tmp_path / "node")
    made.block()
    yield made
    made.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ring = Keyring(tmp_path / "wallet", "test")
    ring.add("newop", seed=account_key(3))
    ring.add("holder", seed=account_key(4))
    return tmp_path / "wallet"


def handlers(chain: Chain) -> dict[str, Any]:
    results: dict[str, abci_pb2.ExecTxResult] = {}

    def abci_query(params: dict[str, Any]) -> dict[str, Any]:
        r = chain.app.query(abci_pb2.RequestQuery(path=params["path"]))
        return {"response": {"code": r.code, "log": r.log, "codespace": r.codespace,
                             "value": base64.b64encode(r.value).decode(), "height": str(r.height)}}

    def broadcast(params: dict[str, Any]) -> dict[str, Any]:
        raw = base64.b64decode(params["tx"])
        checked = chain.check(raw)
        if checked.code == 0:
            results[tx_hash(raw)] = chain.block([raw]).tx_results[0]
        return {"code": checked.code, "log": checked.log, "codespace": checked.codespace,
                "hash": tx_hash(raw)}

    def tx(params: dict[str, Any]) -> dict[str, Any]:
        found = results[base64.b64decode(params["hash"]).hex().upper()]
        return {"hash": "AB", "height": str(chain.height), "index": 0,
                "tx_result": {"code": found.code, "codespace": found.codespace, "log": found.log}}

    return {"status": lambda p: status_result(CHAIN_ID), "abci_query": abci_query,
            "broadcast_tx_sync": broadcast, "tx": tx}


def run(home: Path, url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--home", str(home), "--keyring-backend", "test",
                                     "--node", url, "-o", "json", *args],
                              catch_exceptions=False)


def test_create_validator_from_a_priv_validator_key_file_then_list_it(
    chain: Chain, home: Path, tmp_path: Path,
) -> None:
    key_file = tmp_path / "priv_validator_key.json"
    key_file.write_text(json.dumps({"pub_key": {"type": "tendermint/PubKeyEd25519",
                                                "value": base64.b64encode(cons_pub(3)).decode()}}))
    with fake_node(handlers(chain)) as node:
        created = run(home, node.url, "tx", "staking", "create-validator", "newop",
                      f"{50 * OPT}uopt", "--moniker", "newcomer", "--commission-ppm", "20000",
                      "--consensus-key-file", str(key_file), "--wait")
        assert created.exit_code == 0, created.output
        chain.block()
        listed = run(home, node.url, "q", "staking", "validators")
        one = run(home, node.url, "q", "staking", "validator", "newop")
    validators = json.loads(listed.stdout)["result"]
    assert len(validators) == 4
    shown = json.loads(one.stdout)
    assert (shown["moniker"], shown["power"], shown["status"], shown["commission_ppm"]) == (
        "newcomer", "50", "bonded", "20000")


def test_delegate_and_see_the_delegation_and_its_rewards(chain: Chain, home: Path) -> None:
    with fake_node(handlers(chain)) as node:
        done = run(home, node.url, "tx", "staking", "delegate", "holder", address(0),
                   f"{5 * OPT}uopt", "--wait")
        assert done.exit_code == 0, done.output
        chain.run(2)
        (delegation,) = json.loads(run(home, node.url, "q", "staking", "delegations",
                                       "holder").stdout)["result"]
        pools = json.loads(run(home, node.url, "q", "staking", "pools").stdout)
    assert delegation["validator"] == address(0) and delegation["tokens"] == str(5 * OPT)
    assert int(delegation["rewards"]["uopt"]) > 0
    assert pools["staking"] == str(305 * OPT)


def test_rejected_staking_tx_prints_the_numbered_error(chain: Chain, home: Path) -> None:
    with fake_node(handlers(chain)) as node:
        result = run(home, node.url, "tx", "staking", "delegate", "holder", address(5),
                     f"{OPT}uopt")
    assert result.exit_code != 0
    assert "45" in result.output and "no validator is operated by" in result.output
