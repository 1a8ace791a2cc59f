"""Client-side checks of query answers: Merkle proofs against a block header's app hash.

A proof served with ``abci_query prove=true`` at height H is rooted in the app
hash committed at H, which CometBFT records in the header of block H+1. This
module fetches that header from the same node and verifies the proof with
``state.proof.verify``. It trusts the node for the header itself (it does not yet
check the validators' commit signatures over it), so it catches a buggy or lying
app/store but not a node that forges whole headers.
"""

from __future__ import annotations

from chain.address import parse_address
from chain.rpc import QueryResult, RPCClient
from state import keys, proof
from state.codec import encode_u64


class ProofFailure(Exception):
    """The answer is not proven by the header's app hash."""


def header_app_hash(rpc: RPCClient, height: int, timeout: float = 30.0) -> bytes:
    """The app hash after block ``height``: read from the header of block ``height + 1``."""
    rpc.wait_for_height(height + 1, timeout=timeout)
    header = rpc.block(height + 1)["block"]["header"]
    return bytes.fromhex(header["app_hash"])


def verify_value(rpc: RPCClient, result: QueryResult, key: bytes, value: bytes | None) -> bytes:
    """Check that ``result`` proves ``key`` = ``value`` (None: absent); return the root."""
    ops = [op for op in result.proof_ops if op.type == proof.PROOF_OP_TYPE]
    if len(ops) != 1:
        raise ProofFailure(
            f"the node sent {len(result.proof_ops)} proof op(s), none or several of type "
            f"{proof.PROOF_OP_TYPE}"
        )
    if ops[0].key != key:
        raise ProofFailure(f"the proof is for key {ops[0].key.hex()}, not {key.hex()}")
    if result.height <= 0:
        raise ProofFailure("the answer carries no height to check against")
    root = header_app_hash(rpc, result.height)
    if not proof.verify(root, key, value, ops[0].data):
        raise ProofFailure(
            f"proof does not match app hash {root.hex().upper()} of height {result.height}"
        )
    return root


def verify_balance(
    rpc: RPCClient, address: str, denom: str, amount: int, result: QueryResult
) -> bytes:
    """Verify a ``/balance`` answer of ``amount``; returns the app hash it is proven under.

    Balances are stored as 8-byte big-endian integers and a zero balance is not
    stored at all, so zero is checked as a proof of absence.
    """
    key = keys.balance_key(parse_address(address), denom)
    return verify_value(rpc, result, key, encode_u64(amount) if amount else None)
