"""A real two-validator localnet driven through the `optio` CLI: up, send, prove, restart."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from chain.cli import main
from localnet.manager import Localnet, free_base_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    localnet = Localnet(tmp_path_factory.mktemp("ln") / "net", validators=2,
                        base_port=free_base_port(2), chain_id="optio-cli-e2e")
    try:
        localnet.up(timeout=120)
        yield localnet
    finally:
        localnet.down(kill=True)


def wallet(net: Localnet, *args: str) -> Result:
    return CliRunner().invoke(main, ["--home", str(net.home), "--keyring-backend", "test",
                                     "--node", net.nodes[1].rpc_url, "-o", "json", *args])


def test_send_is_included_and_the_new_balance_is_proven(net: Localnet) -> None:
    bob = net.keyring.show("bob").address
    before = int(json.loads(wallet(net, "q", "balance", bob).stdout)["amount"])
    sent = wallet(net, "tx", "send", "alice", bob, "250uusd", "--wait")
    assert sent.exit_code == 0, sent.output
    proven = wallet(net, "q", "balance", bob, "--prove")
    assert proven.exit_code == 0, proven.output
    data = json.loads(proven.stdout)
    assert data["verified"] is True
    assert int(data["amount"]) == before + 250


def test_overspend_is_rejected_with_its_numbered_error(net: Localnet) -> None:
    bob = net.keyring.show("bob").address
    result = wallet(net, "tx", "send", "carol", bob, "99999999999999999uusd", "--wait")
    assert result.exit_code == 2
    assert "error 35 (insufficient funds)" in result.output


def test_node_restarted_catches_up_to_the_same_app_hash(net: Localnet) -> None:
    net.stop_node(1)
    net.start_node(1)
    height = net.rpc(0).status().latest_height + 2
    net.wait_for_height(height, timeout=60)
    statuses = {s.name: s for s in net.status()}
    assert statuses["node0"].app.alive and statuses["node1"].cometbft.alive
    block = [net.rpc(i).block(height)["block"]["header"]["app_hash"] for i in (0, 1)]
    assert block[0] == block[1]
