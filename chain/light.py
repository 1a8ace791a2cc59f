"""Client-side checks of query answers: Merkle proofs under a header signed by the validators.

A proof served with ``abci_query prove=true`` at height H is rooted in the app
hash committed at H, which CometBFT records in the header of block H+1. This
module fetches that header with its commit and the validator set of H+1 and
checks, as a CometBFT light client does:

1. the header hashes (RFC 6962 Merkle tree of its protobuf-encoded fields) to the
   block id the commit signed;
2. the validator set hashes to the header's ``validators_hash``;
3. validators holding more than 2/3 of the voting power signed the commit
   (ed25519 over the length-delimited canonical precommit);
4. the proof verifies against the header's ``app_hash`` (``state.proof.verify``).

Limit: the validator set is the one the node reports for that height, bound to the
header by its hash but not followed from a trusted root (genesis or an earlier
trusted header), so a node colluding with a >2/3 coalition of *fake* keys could
still lie; any honest-set header it forges or app-hash it alters is caught.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chain.address import parse_address
from chain.canonical import (
    PRECOMMIT_TYPE,
    block_id_bytes,
    bytes_field,
    merkle_root,
    timestamp_bytes,
    varint_field,
)
from chain.canonical import vote_sign_bytes as canonical_vote_sign_bytes
from chain.ed25519 import verify_signature
from chain.rpc import QueryResult, RPCClient
from state import keys, proof
from state.codec import encode_u64

BLOCK_ID_FLAG_COMMIT = 2
ED25519_TYPE = "tendermint/PubKeyEd25519"


class ProofFailure(Exception):
    """The answer is not proven by a validator-signed header."""


def header_hash(header: dict[str, Any]) -> bytes:
    """The block hash: Merkle root of the header's fields, each protobuf-encoded."""
    try:
        return _header_hash(header)
    except ValueError as exc:  # a malformed time or hash: nothing is proven
        raise ProofFailure(f"malformed header: {exc}") from None


def _header_hash(header: dict[str, Any]) -> bytes:
    version = header["version"]

    def wrapped_bytes(name: str) -> bytes:
        return bytes_field(1, bytes.fromhex(header[name]))

    return merkle_root([
        varint_field(1, int(version["block"])) + varint_field(2, int(version.get("app", 0))),
        bytes_field(1, header["chain_id"].encode()),
        varint_field(1, int(header["height"])),
        timestamp_bytes(header["time"]),
        block_id_bytes(header["last_block_id"]),
        *(wrapped_bytes(name) for name in (
            "last_commit_hash", "data_hash", "validators_hash", "next_validators_hash",
            "consensus_hash", "app_hash", "last_results_hash", "evidence_hash",
            "proposer_address")),
    ])


@dataclass(frozen=True, slots=True)
class Validator:
    """One member of a validator set as ``/validators`` reports it."""

    address: bytes
    pubkey: bytes
    power: int

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Validator:
        if raw["pub_key"]["type"] != ED25519_TYPE:
            raise ProofFailure(f"unsupported validator key type {raw['pub_key']['type']}")
        return cls(address=bytes.fromhex(raw["address"]),
                   pubkey=base64.b64decode(raw["pub_key"]["value"]),
                   power=int(raw["voting_power"]))

    def encode(self) -> bytes:
        """``SimpleValidator{pub_key: PublicKey{ed25519}, voting_power}``."""
        return bytes_field(1, bytes_field(1, self.pubkey)) + varint_field(2, self.power)


def validator_set_hash(validators: Sequence[Validator]) -> bytes:
    return merkle_root([v.encode() for v in validators])


def vote_sign_bytes(chain_id: str, height: int, round_: int, block_id: dict[str, Any],
                    timestamp: str) -> bytes:
    """Length-delimited ``CanonicalVote`` of a precommit for ``block_id``."""
    return canonical_vote_sign_bytes(PRECOMMIT_TYPE, chain_id, height, round_, block_id,
                                     timestamp)


def verify_signed_header(signed_header: dict[str, Any], validators: Sequence[Validator]) -> None:
    """Raise ``ProofFailure`` unless >2/3 of ``validators``' power signed this header."""
    header, commit = signed_header["header"], signed_header["commit"]
    block_hash = header_hash(header)
    if block_hash.hex().upper() != commit["block_id"]["hash"].upper():
        raise ProofFailure(
            f"header of height {header['height']} hashes to {block_hash.hex().upper()}, "
            f"but the commit signed {commit['block_id']['hash']}")
    if commit["height"] != header["height"]:
        raise ProofFailure("commit and header are for different heights")
    if validator_set_hash(validators).hex().upper() != header["validators_hash"].upper():
        raise ProofFailure("the validator set does not match the header's validators_hash")
    signatures = commit["signatures"]
    if len(signatures) != len(validators):
        raise ProofFailure("the commit does not have one entry per validator")
    total = sum(v.power for v in validators)
    signed = 0
    for validator, sig in zip(validators, signatures, strict=True):
        if sig["block_id_flag"] != BLOCK_ID_FLAG_COMMIT:
            continue
        if bytes.fromhex(sig["validator_address"]) != validator.address:
            raise ProofFailure("commit signatures are not in validator set order")
        message = vote_sign_bytes(header["chain_id"], int(commit["height"]),
                                  int(commit["round"]), commit["block_id"], sig["timestamp"])
        if not verify_signature(validator.pubkey, base64.b64decode(sig["signature"]), message):
            raise ProofFailure(f"bad signature of validator {validator.address.hex().upper()}")
        signed += validator.power
    if signed * 3 <= total * 2:
        raise ProofFailure(f"only {signed} of {total} voting power signed the header")


def fetch_validators(rpc: RPCClient, height: int) -> list[Validator]:
    """The whole validator set at ``height`` (paging through ``/validators``)."""
    result: list[Validator] = []
    page = 1
    while True:
        raw = rpc.validators(height, page=page, per_page=100)
        result.extend(Validator.from_json(v) for v in raw["validators"])
        if len(result) >= int(raw["total"]) or not raw["validators"]:
            return result
        page += 1


def signed_app_hash(rpc: RPCClient, height: int, timeout: float = 30.0) -> bytes:
    """The app hash after block ``height``, from the validator-signed header of ``height + 1``."""
    rpc.wait_for_height(height + 1, timeout=timeout)
    signed_header = rpc.commit(height + 1)["signed_header"]
    verify_signed_header(signed_header, fetch_validators(rpc, height + 1))
    return bytes.fromhex(signed_header["header"]["app_hash"])


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
    root = signed_app_hash(rpc, result.height)
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
