"""Crash safety on a real 4-validator localnet: while traders keep sending transfers, one node's
app process and then another node's CometBFT process are killed with SIGKILL and restarted.
The chain must keep finalizing (3 of 4 validators are enough), the restarted nodes must catch
up to the same app hash as the others, and every transaction the RPC reported committed must
be in the state of every node."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from chain.address import format_address
from chain.rpc import RPCClient, RPCError
from chain.tx import build_send_tx, tx_hash
from localnet.manager import Localnet
from tests.e2e.harness import common_app_hash, optio, optio_json, running_localnet, wait_until

pytestmark = pytest.mark.e2e

SENDERS = ("alice", "bob", "carol")
AMOUNT = 1_000
FEE = 100


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    with running_localnet(tmp_path_factory.mktemp("localnet-crash"), validators=4) as localnet:
        yield localnet


@dataclass
class Traffic:
    """Transfers from the demo keys to fresh recipients, through nodes that stay up."""

    net: Localnet
    rpcs: list[RPCClient]
    sent: dict[str, tuple[str, int]] = field(default_factory=dict)
    """tx hash -> (recipient, amount) for every tx accepted by CheckTx."""
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        keys = {name: self.net.keyring.private_key(name) for name in SENDERS}
        nonces = {name: 1 for name in SENDERS}
        counter = 0
        while not self.stop.is_set():
            for name in SENDERS:
                counter += 1
                recipient = format_address(counter.to_bytes(20, "big"))
                raw = build_send_tx(keys[name], chain_id=self.net.chain_id,
                                    nonce=nonces[name], to=recipient, amount=AMOUNT,
                                    denom="uusd", fee=FEE)
                try:
                    result = self.rpcs[counter % len(self.rpcs)].broadcast_tx_sync(raw)
                except RPCError:
                    continue
                if result.code == 0:
                    nonces[name] += 1
                    self.sent[tx_hash(raw)] = (recipient, AMOUNT)
            time.sleep(0.05)


def _height(rpc: RPCClient) -> int:
    try:
        return rpc.status().latest_height
    except RPCError:
        return 0


def _wait_caught_up(net: Localnet, node: int, timeout: float = 120.0) -> None:
    target = _height(net.rpc(0)) + 2
    wait_until(lambda: _height(net.rpc(node)) >= target, timeout,
               f"node{node} to catch up to height {target}", interval=0.5)


def test_killed_app_and_killed_cometbft_restart_and_catch_up_without_losing_txs(
    net: Localnet,
) -> None:
    traffic = Traffic(net, [net.rpc(0), net.rpc(3)])
    sender = threading.Thread(target=traffic.run, daemon=True)
    sender.start()
    try:
        wait_until(lambda: len(traffic.sent) >= 20, 60, "traffic to flow")

        # 1. SIGKILL the app process of node1 mid-traffic, then restart the node.
        optio("localnet", "stop", "node1", "--only", "app", "--kill", "--home", str(net.home))
        wait_until(lambda: len(traffic.sent) >= 60, 60, "traffic to continue without node1")
        optio("localnet", "start", "node1", "--home", str(net.home))
        _wait_caught_up(net, 1)

        # 2. SIGKILL the CometBFT process of node2 mid-traffic, then restart it.
        optio("localnet", "stop", "node2", "--only", "cometbft", "--kill", "--home",
              str(net.home))
        wait_until(lambda: len(traffic.sent) >= 120, 60, "traffic to continue without node2")
        optio("localnet", "start", "node2", "--home", str(net.home))
        _wait_caught_up(net, 2)
    finally:
        traffic.stop.set()
        sender.join(timeout=30)

    committed: dict[str, int] = {}
    rpc = net.rpc(0)
    for hash_, (recipient, amount) in traffic.sent.items():
        result = rpc.wait_for_tx(hash_, timeout=60)
        if result.code == 0:
            committed[recipient] = committed.get(recipient, 0) + amount
    assert len(committed) >= 100

    height = max(_height(net.rpc(i)) for i in range(4))
    common_app_hash(net, height)
    for index in range(4):
        node_rpc = net.rpc(index)
        for recipient, amount in sorted(committed.items()):
            held = int(node_rpc.abci_query(f"/balance/{recipient}/uusd").value or b"0")
            assert held == amount, f"node{index} lost a committed transfer to {recipient}"
    # The trader's view through the CLI on a restarted node agrees.
    recipient, amount = min(committed.items())
    out = optio_json("q", "balance", recipient, "--prove", "--node", net.nodes[1].rpc_url)
    assert out["verified"] is True and int(out["amount"]) == amount
