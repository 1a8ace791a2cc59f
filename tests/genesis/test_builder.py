"""Genesis builder: completes a real `cometbft init` genesis in the shape CometBFT expects."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from chain.address import format_address
from genesis.builder import complete_genesis, read_genesis, write_genesis
from genesis.presets import localnet_app_genesis
from genesis.schema import AppGenesis
from state.params import Params

COMETBFT = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "cometbft"
needs_cometbft = pytest.mark.skipif(not COMETBFT.exists(), reason="CometBFT binary not installed")
ADDRESSES = [format_address(bytes([i]) * 20) for i in (1, 2)]


def cometbft_init(home: Path) -> dict[str, Any]:
    subprocess.run([str(COMETBFT), "init", "--home", str(home)], check=True, capture_output=True)
    return read_genesis(str(home / "config" / "genesis.json"))


def _all_int64_fields_are_strings(consensus: dict[str, Any]) -> bool:
    return all(
        isinstance(value, str)
        for section in ("block", "evidence", "abci")
        for value in consensus[section].values()
    )


@needs_cometbft
def test_completed_genesis_keeps_validators_and_sets_app_state(tmp_path: Path) -> None:
    base = cometbft_init(tmp_path)
    app = localnet_app_genesis(ADDRESSES)
    full = complete_genesis(base, app, chain_id="optio-local-1", vote_extensions_enable_height=5)
    assert full["chain_id"] == "optio-local-1"
    assert full["validators"] == base["validators"]
    assert full["genesis_time"] == base["genesis_time"]
    assert AppGenesis.from_json(full["app_state"]) == app
    consensus = full["consensus_params"]
    assert consensus["block"] == {"max_bytes": "4194304", "max_gas": "-1"}
    assert consensus["abci"] == {"vote_extensions_enable_height": "5"}
    assert consensus["validator"] == {"pub_key_types": ["ed25519"]}
    assert set(consensus) == set(base["consensus_params"])
    assert set(consensus["evidence"]) == set(base["consensus_params"]["evidence"])
    assert _all_int64_fields_are_strings(consensus)
    assert "app_state" not in base, "the input must not be modified"


def test_chain_id_is_kept_when_not_overridden() -> None:
    full = complete_genesis({"chain_id": "keep-me", "validators": []}, AppGenesis())
    assert full["chain_id"] == "keep-me"
    assert full["consensus_params"]["abci"]["vote_extensions_enable_height"] == "0"


@pytest.mark.parametrize(
    ("kwargs", "params", "message"),
    [
        ({"block_max_bytes": 8_000}, Params(max_tx_bytes=16_384), "below the app's max_tx_bytes"),
        ({"block_max_bytes": 1_048_576}, Params(), "must exceed evidence max_bytes"),
        ({"vote_extensions_enable_height": -1}, Params(), "cannot be negative"),
    ],
)
def test_inconsistent_consensus_settings_are_refused(
    kwargs: dict[str, int], params: Params, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        complete_genesis({}, AppGenesis(params=params), **kwargs)  # type: ignore[arg-type]


def test_write_genesis_writes_json_that_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "genesis.json"
    genesis = complete_genesis({"chain_id": "x"}, localnet_app_genesis(ADDRESSES))
    write_genesis(str(path), genesis)
    assert json.loads(path.read_text()) == genesis
    assert not (tmp_path / "genesis.json.tmp").exists()


@pytest.mark.e2e
@needs_cometbft
def test_cometbft_starts_and_commits_blocks_from_the_completed_genesis(tmp_path: Path) -> None:
    home = tmp_path / "node"
    base = cometbft_init(home)
    write_genesis(
        str(home / "config" / "genesis.json"),
        complete_genesis(base, localnet_app_genesis(ADDRESSES), chain_id="optio-e2e-1"),
    )
    # The built-in kvstore app ignores app_state, so this checks only that CometBFT
    # accepts the file and the consensus params; Optio's own InitChain is tested above.
    log = tmp_path / "cometbft.log"
    with log.open("w") as out:
        node = subprocess.Popen(
            [
                str(COMETBFT), "start", "--home", str(home), "--proxy_app", "kvstore",
                "--p2p.laddr", "tcp://127.0.0.1:0", "--rpc.laddr", "tcp://127.0.0.1:0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(300):
            if "committed state" in log.read_text() or node.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        node.terminate()
        node.wait(timeout=10)
    text = log.read_text()
    assert "committed state" in text, text[-2000:]
    assert "height=1" in text
