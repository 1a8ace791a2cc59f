"""Per-node config: distinct loopback ports, peers rewritten, values set in the right section."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from localnet.config import (
    NodePorts,
    app_toml,
    node_id,
    peers_string,
    rewrite_cometbft_config,
    set_toml_values,
)
from localnet.manager import LocalnetError, cometbft_binary

SAMPLE = """# top comment
proxy_app = "tcp://127.0.0.1:26658"

[rpc]
# the rpc listen address
laddr = "tcp://127.0.0.1:26657"

[p2p]
laddr = "tcp://0.0.0.0:26656"
"""


def test_default_base_port_gives_node0_the_usual_ports() -> None:
    assert NodePorts.for_node(26650, 0) == NodePorts(p2p=26656, rpc=26657, abci=26658,
                                                     prometheus=26659)


def test_ports_of_every_node_are_distinct() -> None:
    nodes = [NodePorts.for_node(30000, i) for i in range(10)]
    ports = [p for n in nodes for p in (n.p2p, n.rpc, n.abci, n.prometheus)]
    assert len(ports) == len(set(ports))


def test_set_toml_values_changes_only_the_key_of_that_section() -> None:
    text = set_toml_values(SAMPLE, {"p2p": {"laddr": "tcp://127.0.0.1:1"}, "": {"proxy_app": "x"}})
    parsed = tomllib.loads(text)
    assert parsed["p2p"]["laddr"] == "tcp://127.0.0.1:1"
    assert parsed["rpc"]["laddr"] == "tcp://127.0.0.1:26657"
    assert parsed["proxy_app"] == "x"
    assert "# the rpc listen address" in text


def test_set_toml_values_refuses_a_missing_key() -> None:
    with pytest.raises(ValueError, match=r"\[rpc\] grpc_laddr"):
        set_toml_values(SAMPLE, {"rpc": {"grpc_laddr": ""}})


def test_app_toml_is_valid_toml_with_the_abci_port_invariant_checks_on_and_no_vdf_precompute() -> None:
    assert tomllib.loads(app_toml(36658)) == {
        "abci_address": "tcp://127.0.0.1:36658", "db_path": "data/optio.db", "log_level": "info",
        "check_invariants": True, "vdf_precompute": False}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        binary = cometbft_binary()
    except LocalnetError:
        pytest.skip("no CometBFT binary")
    out = tmp_path_factory.mktemp("testnet")
    subprocess.run([binary, "testnet", "--v", "2", "--o", str(out),
                    "--starting-ip-address", "127.0.0.1"], check=True, capture_output=True)
    return out


def test_node_id_matches_cometbft(generated: Path) -> None:
    shown = subprocess.run([cometbft_binary(), "show-node-id", "--home", str(generated / "node1")],
                           check=True, capture_output=True, text=True).stdout.strip()
    assert node_id(generated / "node1" / "config" / "node_key.json") == shown


def test_cometbft_config_is_rewritten_for_loopback(generated: Path) -> None:
    ports = NodePorts.for_node(40000, 1)
    peer = node_id(generated / "node0" / "config" / "node_key.json")
    path = generated / "node1" / "config" / "config.toml"
    rewrite_cometbft_config(path, "node1", ports, peers_string([(peer, 40006)]))
    config = tomllib.loads(path.read_text())
    assert config["proxy_app"] == "tcp://127.0.0.1:40018"
    assert config["rpc"]["laddr"] == "tcp://127.0.0.1:40017"
    assert config["p2p"]["laddr"] == "tcp://127.0.0.1:40016"
    assert config["p2p"]["persistent_peers"] == f"{peer}@127.0.0.1:40006"
    assert config["p2p"]["allow_duplicate_ip"] is True
    assert config["p2p"]["addr_book_strict"] is False
    assert config["consensus"]["timeout_commit"] == "300ms"
    assert config["instrumentation"]["prometheus"] is False
    assert config["db_backend"] == "goleveldb"
