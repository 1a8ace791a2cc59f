"""The proposal pipeline on a real 4-validator CometBFT localnet: validators' `sim` feeds
disagree (each node skews the shared walk by its own small bias) and node3 feeds wild prices
(six times the market); every block carries `[oracle tx] [ordering tx] [user txs]`, prices
reach state every block, the wild feed cannot move the median, one validator down keeps
prices flowing, and no honest proposal is ever rejected."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import pytest

from chain.oracle.canonical import is_valid_extension_signature
from chain.oracle.extension import decode_extension
from chain.oracle.feeder import OracleConfig, SimSource
from chain.oracle.tx import decode_oracle_tx
from chain.ordering import decode_injected_tx, split_block
from chain.rpc import RPCClient
from chain.tx import build_send_tx
from localnet.config import app_toml, localnet_oracle
from localnet.manager import Localnet, free_base_port
from tests.e2e.harness import block_time_ns, optio_json, wait_until

pytestmark = pytest.mark.e2e

WILD_NODE = 3
WILD_BIAS_PPM = 5_000_000  # node3 reports 6× the market
TOLERANCE_PPM = 3_000  # honest biases are ≤ 400 ppm; the walk moves ≤ 500 ppm per second


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    home = tmp_path_factory.mktemp("localnet-oracle")
    localnet = Localnet(home, validators=4, base_port=free_base_port(4))
    try:
        localnet.init()
        wild = localnet.nodes[WILD_NODE]
        (wild.home / "config" / "app.toml").write_text(app_toml(
            wild.ports.abci, oracle={**localnet_oracle(WILD_NODE), "sim_bias_ppm": WILD_BIAS_PPM}))
        localnet.up(timeout=240)
        yield localnet
    finally:
        localnet.down(kill=True)


def block_txs(rpc: RPCClient, height: int) -> list[bytes]:
    return [base64.b64decode(t) for t in rpc.block(height)["block"]["data"]["txs"] or []]


def oracle_events(rpc: RPCClient, height: int) -> dict[str, dict[str, str]]:
    results = rpc.call("block_results", height=str(height))
    out = {}
    for event in results.get("finalize_block_events") or []:
        if event["type"] == "oracle_price":
            attrs = {a["key"]: a["value"] for a in event["attributes"]}
            out[attrs["underlying"]] = attrs
    return out


def market(underlying: str, time_ns: int) -> int:
    """The unskewed sim price every node's feed is built on, at a block time."""
    config = OracleConfig(source="sim", **{k: v for k, v in localnet_oracle(0).items()
                                          if k in ("sim_seed",)})  # type: ignore[arg-type]
    return SimSource(config).read(time_ns / 1e9)[underlying][0]


def near_market(underlying: str, price: int, time_ns: int) -> bool:
    reference = market(underlying, time_ns)
    return abs(price - reference) * 1_000_000 <= TOLERANCE_PPM * reference


def test_every_block_carries_the_layout_and_prices_reach_state_every_block(net: Localnet) -> None:
    rpc = net.rpc(0)
    start = rpc.status().latest_height + 1
    rpc.wait_for_height(start + 6, 120)
    chain_id = rpc.status().network
    for height in range(max(start, 2), start + 6):
        txs = block_txs(rpc, height)
        injected, _ = split_block(txs)
        kinds = [decode_injected_tx(t).WhichOneof("kind") for t in injected]
        assert kinds == ["oracle", "ordering"], f"block {height}: {kinds}"
        # the oracle tx carries CometBFT's signed extensions of height - 1
        oracle = decode_oracle_tx(txs[0])
        assert oracle is not None
        keys = {bytes.fromhex(v["address"]): base64.b64decode(v["pub_key"]["value"])
                for v in rpc.validators(height - 1)["validators"]}
        signed = [v for v in oracle.votes if v.block_id_flag == 2]
        assert len(signed) >= 3
        for vote in signed:
            assert is_valid_extension_signature(keys[vote.validator_address],
                                                vote.extension_signature, vote.vote_extension,
                                                height - 1, oracle.round, chain_id)
        events = oracle_events(rpc, height)
        assert set(events) == {"BTC", "ETH"}, f"block {height} updated {sorted(events)}"
        header_time = rpc.block(height)["block"]["header"]["time"]
        assert header_time
    prices = json.loads(rpc.abci_query("/oracle/prices").value)
    for record in prices["prices"].values():
        assert record is not None and int(record["height"]) >= start


def test_a_wild_feeder_cannot_move_the_median(net: Localnet) -> None:
    rpc = net.rpc(1)
    start = rpc.status().latest_height + 1
    rpc.wait_for_height(start + 4, 120)
    wild_votes = 0
    for height in range(start, start + 4):
        events = oracle_events(rpc, height)
        time_ns = block_time_ns(rpc, height)
        oracle = decode_oracle_tx(block_txs(rpc, height)[0])
        assert oracle is not None
        for underlying, attrs in events.items():
            price = int(attrs["price_ticks"])
            # every block's median is near the market, the wild node's report is 6x off it
            assert price < market(underlying, time_ns) * 1.5, (height, underlying, price)
        for vote in oracle.votes:
            if vote.vote_extension:
                btc = decode_extension(vote.vote_extension, n_underlyings=2, max_bytes=512)
                wild_votes += (btc.price_of(0) or 0) > 5 * int(events["BTC"]["price_ticks"])
    assert wild_votes >= 1  # the wild feed did take part in the medians
    prices = json.loads(rpc.abci_query("/oracle/prices").value)
    for underlying, record in prices["prices"].items():
        assert near_market(underlying, int(record["price_ticks"]), int(record["time_ns"]))


def test_ordering_is_verifiable_from_the_cli_for_a_block_with_user_txs(net: Localnet) -> None:
    rpc = net.rpc(0)
    keyring = net.keyring
    sender = keyring.show("alice").address
    key = keyring.private_key("alice")
    nonce = int(json.loads(rpc.abci_query(f"/account/{sender}").value)["pending_next_nonce"])
    hashes = []
    for i in range(5):
        raw = build_send_tx(key, chain_id=rpc.status().network, nonce=nonce + i,
                            to=keyring.show("bob").address, amount=1 + i, denom="uusd", fee=100)
        hashes.append(rpc.broadcast_tx_sync(raw).hash)
    results = [rpc.wait_for_tx(h, 60) for h in hashes]
    heights = sorted({r.height for r in results})
    assert all(r.code == 0 for r in results)
    height = heights[0]
    out = optio_json("q", "block-order", str(height), "--prove", "--node", net.nodes[0].rpc_url)
    assert out["verified"] and out["seed_matches_block"] and out["order_matches_output"]
    assert out["injected"] == ["oracle", "ordering"] and len(out["order"]) >= 1
    twap = optio_json("q", "oracle", "twap", "BTC", "--window", "30m",
                      "--node", net.nodes[0].rpc_url)
    assert int(twap["price_ticks"]) > 0 and twap["rounding"] == "down"
    prices = optio_json("q", "oracle", "prices", "--prove", "--node", net.nodes[0].rpc_url)
    assert all(record["verified"] for record in prices["prices"].values())


def test_one_validator_down_keeps_prices_flowing(net: Localnet) -> None:
    net.stop_node(1)
    try:
        rpc = net.rpc(0)
        start = rpc.status().latest_height + 1
        rpc.wait_for_height(start + 4, 120)
        for height in range(start + 1, start + 4):
            events = oracle_events(rpc, height)
            assert set(events) == {"BTC", "ETH"}, f"block {height}: {sorted(events)}"
            assert int(events["BTC"]["reported_power"]) * 4 == 3 * int(events["BTC"]["total_power"])
            # the price of block `height` against the market at that block's own time
            assert near_market("BTC", int(events["BTC"]["price_ticks"]), block_time_ns(rpc, height))
    finally:
        net.start_node(1)


def test_no_honest_proposal_was_rejected(net: Localnet) -> None:
    rpc = net.rpc(0)
    wait_until(lambda: rpc.status().latest_height >= 12, 120, "height 12")
    for node in net.nodes:
        log = (node.home / "app.log").read_text(errors="replace")
        assert not re.search(r"rejecting (proposal|vote extension)", log), node.name
        assert "Traceback" not in log, node.name
        consensus = (node.home / "cometbft.log").read_text(errors="replace")
        assert "state machine rejected a proposed block" not in consensus, node.name
    # every node, node1 too after its restart, keeps up with the chain
    net.wait_for_height(net.rpc(0).status().latest_height, 120)
