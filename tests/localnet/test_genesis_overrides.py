"""Genesis overrides of a localnet: merged into genesis.json of every node at creation only."""

from __future__ import annotations

import json
from pathlib import Path

from localnet.manager import Localnet, merge_json


def test_merge_json_merges_objects_and_replaces_everything_else() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    merged = merge_json(base, {"a": {"c": [3], "e": {"f": 2}}, "g": None})
    assert merged == {"a": {"b": 1, "c": [3], "e": {"f": 2}}, "d": "x", "g": None}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": "x"}


def test_overrides_reach_every_nodes_genesis_and_only_at_creation(tmp_path: Path) -> None:
    net = Localnet(tmp_path / "net", validators=2, base_port=41000)
    patch = {"app_state": {"params": {"min_fee_uusd": "7"}},
             "consensus_params": {"evidence": {"max_age_num_blocks": "500"}}}
    assert net.init(genesis_overrides=patch) is True
    for node in net.nodes:
        genesis = json.loads((node.home / "config" / "genesis.json").read_text())
        assert genesis["app_state"]["params"]["min_fee_uusd"] == "7"
        assert genesis["app_state"]["params"]["max_tx_bytes"] == "16384"
        assert genesis["consensus_params"]["evidence"]["max_age_num_blocks"] == "500"
        assert len(genesis["validators"]) == 2
    again = Localnet(tmp_path / "net")
    assert again.init(genesis_overrides={"app_state": {"params": {"min_fee_uusd": "9"}}}) is False
    genesis = json.loads((again.nodes[0].home / "config" / "genesis.json").read_text())
    assert genesis["app_state"]["params"]["min_fee_uusd"] == "7"
    assert again.full_nodes == 0 and len(again.nodes) == 2
