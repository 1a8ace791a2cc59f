"""End to end on a real 4-validator CometBFT localnet, driven through the `optio` CLI the way a
developer and a trader would: bring the network up, create a key, send collateral, query
balances with Merkle proofs on every node, and check every node agrees on the app hash and that
supply is conserved. Then every kind of bad transaction is submitted and must come back with
its numbered code and message while the state stays exactly as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.address import account_id_from_public_key, format_address
from chain.proto import tx_pb2
from chain.rpc import RPCClient
from chain.tx import public_key_bytes, sign_tx, tx_hash
from localnet.manager import Localnet
from state.denoms import DENOMS
from state.staking import REWARDS_POOL_ID, STAKING_POOL_ID, UNBONDING_POOL_ID
from tests.e2e.harness import common_app_hash, optio, optio_json, running_localnet, wait_until

pytestmark = pytest.mark.e2e

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    with running_localnet(tmp_path_factory.mktemp("localnet4"), validators=4) as localnet:
        yield localnet


@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trader's own wallet home with an encrypted (file backend) keyring."""
    return tmp_path_factory.mktemp("trader-wallet")


def demo(net: Localnet, *args: str) -> list[str]:
    """Options that make the CLI use the localnet's funded demo keys (test keyring)."""
    return [*args, "--home", str(net.home), "--keyring-backend", "test", "--node",
            net.nodes[0].rpc_url]


def balance(net: Localnet, address: str, denom: str, node: int = 0) -> int:
    out = optio_json("q", "balance", address, "--denom", denom, "--node", net.nodes[node].rpc_url)
    return int(out["amount"])


def total_held(net: Localnet, addresses: list[str], denom: str) -> int:
    rpc = net.rpc(0)
    pool = int(rpc.abci_query(f"/fee_pool/{denom}").value or b"0")
    return pool + sum(balance(net, a, denom) for a in addresses)


def test_trader_creates_key_receives_collateral_and_proves_balance_on_every_node(
    net: Localnet, wallet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTIO_KEYRING_PASSPHRASE", PASSPHRASE)
    status = optio_json("localnet", "status", "--home", str(net.home))
    nodes = status["nodes"] if isinstance(status, dict) else status
    assert len(nodes) == 4 and all(n["height"] >= 2 for n in nodes)

    trader = optio_json("keys", "add", "trader", "--home", str(wallet))["address"]
    assert trader.startswith("optio1")
    keyfiles = list((wallet / "keyring-file").iterdir())
    assert keyfiles and PASSPHRASE.encode() not in keyfiles[0].read_bytes()

    bob = optio_json(*demo(net, "keys", "show", "bob"))["address"]
    start_bob = balance(net, bob, "uusd")

    sent = optio_json(*demo(net, "tx", "send", "alice", trader, "5000000uusd", "--wait"))
    assert sent["code"] == 0 and sent["height"] > 0
    optio_json(*demo(net, "tx", "send", "alice", trader, "700uopt", "--wait"))

    # The trader pays bob through another validator's RPC, with its encrypted key (once that
    # node has committed the funding: under load a node can trail by a block).
    wait_until(lambda: balance(net, trader, "uopt", node=2) == 700, 60, "node2 to catch up")
    paid = optio_json("tx", "send", "trader", bob, "1234uusd", "--fee", "200uusd", "--wait",
                      "--home", str(wallet), "--node", net.nodes[2].rpc_url)
    assert paid["code"] == 0

    for index, node in enumerate(net.nodes):
        wait_until(lambda i=index: balance(net, bob, "uusd", node=i) == start_bob + 1234, 60,
                   f"node{index} to commit the payment")
        proved = optio_json("q", "balance", trader, "--denom", "uusd", "--prove",
                            "--node", node.rpc_url)
        assert proved["verified"] is True, f"node{index}"
        assert int(proved["amount"]) == 5000000 - 1234 - 200
        opt = optio_json("q", "balance", trader, "--denom", "uopt", "--prove",
                         "--node", node.rpc_url)
        assert opt["verified"] is True and int(opt["amount"]) == 700

    # A balance that does not exist is proved absent (zero) too.
    nobody = format_address(bytes(20))
    absent = optio_json("q", "balance", nobody, "--prove", "--node", net.nodes[1].rpc_url)
    assert absent["verified"] is True and int(absent["amount"]) == 0


def test_every_node_reports_the_same_app_hash_at_the_same_height(net: Localnet) -> None:
    latest = min(s.height or 0 for s in net.status())
    for height in range(max(1, latest - 5), latest + 1):
        common_app_hash(net, height)


def test_supply_is_conserved_and_every_app_stayed_up_under_invariant_checks(net: Localnet) -> None:
    # Every node evaluates all invariants on one committed height (uopt moves every block:
    # inflation, rewards), and the apps check them after every block (check_invariants).
    for index in range(net.validators):
        report = json.loads(net.rpc(index).abci_query("/invariants").value)
        assert report["supply_conserved"] is True and report["staking"] == "ok", report
    # Independently: uusd is never minted, so its supply is the genesis total, and with no tx in
    # flight it is all held by the accounts we know plus the fee and rewards pools.
    genesis = json.loads((net.nodes[0].home / "config" / "genesis.json").read_text())
    genesis_uusd = sum(int(c["amount"]) for a in genesis["app_state"]["accounts"]
                       for c in a["balances"] if c["denom"] == "uusd")
    assert int(net.rpc(0).abci_query("/supply/uusd").value) == genesis_uusd
    holders = {a["address"] for a in genesis["app_state"]["accounts"]}
    holders |= {k.address for k in net.demo_keys()} | set(_recipients(net))
    holders |= {format_address(pool) for pool in (STAKING_POOL_ID, UNBONDING_POOL_ID,
                                                  REWARDS_POOL_ID)}
    assert total_held(net, sorted(holders), "uusd") == genesis_uusd
    assert all(s.app.alive and s.cometbft.alive for s in net.status())


def _recipients(net: Localnet) -> list[str]:
    """Every address that received a transfer, read back from the chain's tx index."""
    found: list[str] = []
    rpc = net.rpc(0)
    result = rpc.call("tx_search", query="transfer.recipient EXISTS", per_page="100")
    for tx in result["txs"]:
        for event in tx["tx_result"].get("events", []):
            if event["type"] == "transfer":
                found.extend(a["value"] for a in event["attributes"] if a["key"] == "recipient")
    return found


# --- bad input -------------------------------------------------------------------------


def _key(seed: int) -> bytes:
    return bytes([seed]) * 32


def _address(seed: int) -> str:
    return format_address(account_id_from_public_key(public_key_bytes(_key(seed))))


def _send_body(chain_id: str, *, sender_seed: int, amount: str = "10", denom: str = "uusd",
               nonce: int = 1, fee: int = 100, timeout_height: int = 0,
               from_seed: int | None = None) -> bytes:
    sender = _address(sender_seed if from_seed is None else from_seed)
    msg = tx_pb2.Msg(send=tx_pb2.MsgSend(
        from_address=sender, to_address=_address(99),
        amount=tx_pb2.Coin(denom=denom, amount=amount)))
    body = tx_pb2.TxBody(chain_id=chain_id, nonce=nonce, memo="",
                         fee=tx_pb2.Coin(denom="uusd", amount=str(fee)),
                         timeout_height=timeout_height, messages=[msg])
    return body.SerializeToString(deterministic=True)


def test_each_kind_of_bad_transaction_gets_its_numbered_error_and_changes_nothing(
    net: Localnet,
) -> None:
    rpc: RPCClient = net.rpc(1)
    chain_id = net.chain_id
    funded = 7  # a key funded below with a little uusd, for the stateful cases
    optio_json(*demo(net, "tx", "send", "alice", _address(funded), "1000uusd", "--wait"))
    # node1 (where the txs go) may commit that block a little after node0 under load.
    wait_until(lambda: rpc.abci_query(f"/balance/{_address(funded)}/uusd").value == b"1000",
               60, "node1 to see the funding")

    def signed(body: bytes, seed: int = funded) -> bytes:
        return sign_tx(_key(seed), body)

    good = signed(_send_body(chain_id, sender_seed=funded, nonce=1))
    assert rpc.broadcast_tx_sync(good).code == 0
    rpc.wait_for_tx(tx_hash(good), timeout=60)
    height = rpc.status().latest_height
    # Read from node1, which reported the good tx committed; every node is compared later.
    before = _touched_state(net, [_address(funded), _address(99), _address(42), _address(8)],
                            node=1)

    tampered = tx_pb2.Tx.FromString(good)
    tampered.signature = bytes(64)
    # Key 8 signs a send out of the funded account: a valid signature by the wrong owner.
    not_owner = signed(_send_body(chain_id, sender_seed=8, from_seed=funded, nonce=2), seed=8)
    unknown_msg = tx_pb2.TxBody.FromString(_send_body(chain_id, sender_seed=funded, nonce=6))
    unknown_msg.messages[0].Clear()
    cases: list[tuple[str, bytes, int, str]] = [
        ("malformed bytes", b"\xff\x00 not a transaction", 2, "malformed"),
        ("too large", b"\x0a" + b"\x01" * 20000, 3, "too large"),
        ("unknown message", signed(unknown_msg.SerializeToString(deterministic=True)), 6,
         "does not know"),
        ("wrong chain id", signed(_send_body("another-chain", sender_seed=funded, nonce=2)), 8,
         "chain"),
        ("non-canonical encoding", good + b"\x1a\x00", 4, "non-canonical"),
        ("bad signature", tampered.SerializeToString(deterministic=True), 10, "signature"),
        ("signer is not the sender", not_owner, 11, "only the owner"),
        ("replayed nonce", signed(_send_body(chain_id, sender_seed=funded, nonce=1, amount="11")),
         31, "already used"),
        ("nonce too far ahead",
         signed(_send_body(chain_id, sender_seed=funded, nonce=1_000_000)), 33, "ahead"),
        ("zero amount", signed(_send_body(chain_id, sender_seed=funded, nonce=2, amount="0")),
         14, "amount"),
        ("negative amount",
         signed(_send_body(chain_id, sender_seed=funded, nonce=2, amount="-5")), 14, "amount"),
        ("overflowing amount",
         signed(_send_body(chain_id, sender_seed=funded, nonce=2, amount="9" * 30)), 14,
         "amount"),
        ("unknown denom",
         signed(_send_body(chain_id, sender_seed=funded, nonce=2, denom="ubtc")), 15, "denom"),
        ("insufficient funds",
         signed(_send_body(chain_id, sender_seed=funded, nonce=2, amount="999999")), 35,
         "insufficient funds"),
        ("fee below minimum",
         signed(_send_body(chain_id, sender_seed=funded, nonce=2, fee=1)), 34, "fee"),
        ("expired timeout height",
         signed(_send_body(chain_id, sender_seed=funded, nonce=2, timeout_height=1)), 30,
         "height"),
        ("unfunded account", signed(_send_body(chain_id, sender_seed=42, nonce=1), seed=42), 35,
         "insufficient funds"),
    ]
    for name, raw, code, words in cases:
        result = rpc.broadcast_tx_sync(raw)
        assert result.code == code, f"{name}: got code {result.code} ({result.log})"
        assert result.codespace == "optio", name
        assert words in result.log.lower(), f"{name}: message {result.log!r} lacks {words!r}"

    # The CLI shows the numbered error and exits non-zero.
    cli = optio(*demo(net, "tx", "send", "bob", _address(99), "1uusd", "--fee", "1uusd"),
                check=False)
    assert cli.returncode != 0 and "error 34" in cli.stderr
    cli = optio(*demo(net, "tx", "send", "bob", _address(99), "1uusd", "--memo", "x" * 300),
                check=False)
    assert cli.returncode != 0 and "error 13" in cli.stderr and "memo" in cli.stderr

    wait_until(lambda: rpc.status().latest_height >= height + 3, 60, "three more blocks")
    for index in range(net.validators):
        assert _touched_state(net, [_address(funded), _address(99), _address(42), _address(8)],
                              node=index) == before, f"node{index}: a rejected tx left a trace"


def _touched_state(net: Localnet, addresses: list[str], node: int = 0) -> list[bytes]:
    """Every state record a rejected tx above could have changed: the accounts' nonce records
    and balances (the app hash itself moves every block with the block clock)."""
    rpc = net.rpc(node)
    records = []
    for address in addresses:
        account = json.loads(rpc.abci_query(f"/account/{address}").value)
        records.append(account["max_nonce"].encode())
        for denom in DENOMS:
            records.append(rpc.abci_query(f"/balance/{address}/{denom}").value)
    return records
