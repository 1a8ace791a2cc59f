"""The JSON-RPC client against a local fake node: encodings, errors, polling."""

from __future__ import annotations

import base64
import socket

import pytest

from chain.rpc import NodeUnreachable, RPCClient, RPCResponseError
from tests.cli.fake_node import RpcFailure, fake_node, status_result


def test_status_is_decoded() -> None:
    with fake_node({"status": lambda p: status_result("optio-x", 12)}) as node:
        status = RPCClient(node.url).status()
    assert status.network == "optio-x"
    assert status.latest_height == 12
    assert status.latest_app_hash == "AB" * 32


def test_abci_query_sends_hex_data_and_decodes_base64_and_proof_ops() -> None:
    response = {"response": {
        "code": 0, "value": base64.b64encode(b"42").decode(), "height": "9",
        "proofOps": {"ops": [{"type": "optio:smt", "key": base64.b64encode(b"k").decode(),
                              "data": base64.b64encode(b"proof").decode()}]},
    }}
    with fake_node({"abci_query": lambda p: response}) as node:
        result = RPCClient(node.url).abci_query("/balance/x/uusd", b"\x01\x02", height=8,
                                                prove=True)
        sent = node.params_of("abci_query")[0]
    assert sent == {"path": "/balance/x/uusd", "data": "0102", "height": "8", "prove": True}
    assert result.value == b"42"
    assert result.height == 9
    assert result.proof_ops[0].key == b"k"
    assert result.proof_ops[0].data == b"proof"


def test_broadcast_sends_the_tx_as_base64() -> None:
    answer = {"code": 35, "log": "insufficient funds: …", "codespace": "optio", "hash": "AA"}
    with fake_node({"broadcast_tx_sync": lambda p: answer}) as node:
        result = RPCClient(node.url).broadcast_tx_sync(b"\xff\x00raw")
        sent = node.params_of("broadcast_tx_sync")[0]
    assert base64.b64decode(sent["tx"]) == b"\xff\x00raw"
    assert (result.code, result.hash) == (35, "AA")


def test_tx_not_found_is_none() -> None:
    missing = RpcFailure(-32603, "Internal error", "tx (ABCD) not found")
    with fake_node({"tx": lambda p: missing}) as node:
        assert RPCClient(node.url).tx("ABCD") is None
        sent = node.params_of("tx")[0]
    assert base64.b64decode(sent["hash"]) == bytes.fromhex("ABCD")


def test_found_tx_is_decoded() -> None:
    found = {"hash": "ABCD", "height": "15", "index": 2,
             "tx_result": {"code": 0, "log": "", "gas_used": "0", "events": []}}
    with fake_node({"tx": lambda p: found}) as node:
        result = RPCClient(node.url).wait_for_tx("abcd", timeout=5)
    assert (result.height, result.index, result.code) == (15, 2, 0)


def test_json_rpc_error_is_raised_with_its_message() -> None:
    failure = RpcFailure(-32603, "Internal error", "height 99 must be less than or equal to 7")
    with fake_node({"block": lambda p: failure}) as node, \
            pytest.raises(RPCResponseError, match="height 99 must be less"):
        RPCClient(node.url).block(99)


def test_unreachable_node_names_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(NodeUnreachable, match=url):
        RPCClient(url, timeout=2).status()


def test_wait_for_height_polls_until_reached() -> None:
    heights = iter([1, 2, 3])
    with fake_node({"status": lambda p: status_result(height=next(heights))}) as node:
        assert RPCClient(node.url).wait_for_height(3, timeout=10, interval=0.01) == 3
        assert len(node.params_of("status")) == 3
