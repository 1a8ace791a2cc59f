"""Fault drill: make one validator double-sign, for real, and hand the proof to CometBFT.

With the validator's consensus key (``priv_validator_key.json`` of its CometBFT home) this
module signs two prevotes for the same height and round but for two different block ids —
exactly the equivocation a faulty or compromised validator commits — and submits them as
``DuplicateVoteEvidence`` through CometBFT's ``broadcast_evidence`` RPC. CometBFT checks
the evidence as it checks any (both signatures, the validator and the voting powers at that
height, the block time), gossips it, and a proposer includes it in a block; the app then
receives it as ``Misbehavior{type=DUPLICATE_VOTE}`` in FinalizeBlock.

What CometBFT v0.38 requires (``evidence/verify.go``, ``types/evidence.go``):

- both votes have the same height, round and type, the same validator address and
  index, complete but different block ids, and ``vote_a``'s block id key (hash bytes then
  the protobuf ``PartSetHeader``) sorts strictly before ``vote_b``'s;
- the validator was in the set at that height; ``ValidatorPower`` and
  ``TotalVotingPower`` equal its power and the set's total power there;
- ``Timestamp`` equals the time in the header of the block at that height;
- each signature is ed25519 over the length-delimited ``CanonicalVote`` with the chain id.

Prevotes are used because they carry no vote extension (an extension on a non-nil
precommit would have to be signed as well).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.canonical import (
    PREVOTE_TYPE,
    bytes_field,
    varint_field,
    vote_sign_bytes,
)
from chain.light import fetch_validators
from chain.rpc import RPCClient

EVIDENCE_TYPE = "tendermint/DuplicateVoteEvidence"


class EvidenceError(Exception):
    """The double-sign could not be built, or CometBFT refused or never included it."""


@dataclass(frozen=True, slots=True)
class ConsensusKey:
    """A validator's ed25519 consensus key as CometBFT stores it."""

    address: bytes
    public_key: bytes
    seed: bytes

    @classmethod
    def from_file(cls, path: Path | str) -> ConsensusKey:
        """Read ``priv_validator_key.json`` (the Go private key is seed ‖ public key)."""
        raw = json.loads(Path(path).read_text())
        keypair = base64.b64decode(raw["priv_key"]["value"])
        public = base64.b64decode(raw["pub_key"]["value"])
        if len(keypair) != 64 or keypair[32:] != public:
            raise EvidenceError(f"{path}: not an ed25519 CometBFT validator key")
        # A CometBFT address is the first 20 bytes of SHA-256 of the ed25519 public key.
        address = hashlib.sha256(public).digest()[:20]
        if raw.get("address") and bytes.fromhex(raw["address"]) != address:
            raise EvidenceError(f"{path}: address does not match the public key")
        return cls(address=address, public_key=public, seed=keypair[:32])

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def fake_block_id(label: bytes, height: int) -> dict[str, Any]:
    """A complete block id (32-byte hash, one part) that no honest proposer made."""
    digest = hashlib.sha256(b"optio double-sign drill|" + label + height.to_bytes(8, "big"))
    return {
        "hash": digest.hexdigest().upper(),
        "parts": {"total": 1, "hash": hashlib.sha256(digest.digest()).hexdigest().upper()},
    }


def block_id_key(block_id: dict[str, Any]) -> bytes:
    """CometBFT's ``BlockID.Key()``: hash bytes, then the protobuf ``PartSetHeader``."""
    parts = block_id["parts"]
    header = varint_field(1, int(parts["total"])) + bytes_field(2, bytes.fromhex(parts["hash"]))
    return bytes.fromhex(block_id["hash"]) + header


def prevote_sign_bytes(chain_id: str, height: int, round_: int, block_id: dict[str, Any],
                       timestamp: str) -> bytes:
    """Length-delimited ``CanonicalVote`` of a prevote."""
    return vote_sign_bytes(PREVOTE_TYPE, chain_id, height, round_, block_id, timestamp)


def signed_prevote(key: ConsensusKey, *, chain_id: str, height: int, round_: int,
                   block_id: dict[str, Any], timestamp: str, index: int) -> dict[str, Any]:
    """A prevote in CometBFT's JSON (int64 as strings, addresses hex, signatures base64)."""
    signature = key.sign(prevote_sign_bytes(chain_id, height, round_, block_id, timestamp))
    return {
        "type": PREVOTE_TYPE,
        "height": str(height),
        "round": round_,
        "block_id": block_id,
        "timestamp": timestamp,
        "validator_address": key.address.hex().upper(),
        "validator_index": index,
        "signature": base64.b64encode(signature).decode(),
    }


def build_duplicate_vote_evidence(rpc: RPCClient, key: ConsensusKey, height: int | None = None,
                                  round_: int = 0) -> dict[str, Any]:
    """Evidence that ``key`` prevoted twice at ``height`` (default: the latest block but one).

    Powers and the timestamp are read from the chain at that height, as CometBFT checks them.
    """
    status = rpc.status()
    if height is None:
        height = status.latest_height - 1
    if not 1 <= height <= status.latest_height:
        raise EvidenceError(f"height {height} is not a committed block (latest "
                            f"{status.latest_height})")
    validators = fetch_validators(rpc, height)
    index = next((i for i, v in enumerate(validators) if v.address == key.address), None)
    if index is None:
        raise EvidenceError(
            f"{key.address.hex().upper()} was not a validator at height {height}: "
            "CometBFT only accepts evidence against a member of that height's set")
    block_time = str(rpc.block(height)["block"]["header"]["time"])
    first, second = sorted(
        (fake_block_id(b"A", height), fake_block_id(b"B", height)), key=block_id_key)
    votes = [
        signed_prevote(key, chain_id=status.network, height=height, round_=round_,
                       block_id=block_id, timestamp=block_time, index=index)
        for block_id in (first, second)
    ]
    return {
        "type": EVIDENCE_TYPE,
        "value": {
            "vote_a": votes[0],
            "vote_b": votes[1],
            # No JSON tags on these Go fields: CometBFT's JSON names are the field names.
            "TotalVotingPower": str(sum(v.power for v in validators)),
            "ValidatorPower": str(validators[index].power),
            "Timestamp": block_time,
        },
    }


def broadcast_evidence(rpc: RPCClient, evidence: dict[str, Any]) -> str:
    """Submit through ``broadcast_evidence``; return the evidence hash (hex) CometBFT reports.

    Raises ``RPCResponseError`` with CometBFT's reason if it does not verify."""
    result = rpc.call("broadcast_evidence", evidence=evidence)
    return str(result["hash"])


@dataclass(frozen=True, slots=True)
class IncludedEvidence:
    """A piece of evidence as found in a committed block."""

    block_height: int
    type: str
    value: dict[str, Any]

    @property
    def validator_address(self) -> str:
        return str(self.value["vote_a"]["validator_address"])

    @property
    def infraction_height(self) -> int:
        return int(self.value["vote_a"]["height"])


def find_evidence(rpc: RPCClient, address: bytes, from_height: int,
                  timeout: float = 60.0) -> IncludedEvidence:
    """Scan blocks from ``from_height`` until one carries evidence against ``address``."""
    wanted = address.hex().upper()
    deadline = time.monotonic() + timeout
    height = from_height
    while True:
        if height <= rpc.status().latest_height:
            block = rpc.block(height)["block"]
            for item in (block.get("evidence") or {}).get("evidence") or []:
                value = item.get("value", {})
                vote = value.get("vote_a") or {}
                if str(vote.get("validator_address", "")).upper() == wanted:
                    return IncludedEvidence(height, str(item["type"]), value)
            height += 1
            continue
        if time.monotonic() >= deadline:
            raise EvidenceError(
                f"no block from {from_height} to {height - 1} carries evidence against {wanted} "
                f"after {timeout:g}s")
        time.sleep(0.2)


def double_sign(rpc: RPCClient, key_file: Path | str, height: int | None = None,
                timeout: float = 60.0) -> IncludedEvidence:
    """The whole drill: sign two conflicting prevotes, submit, wait for a block to carry it."""
    key = ConsensusKey.from_file(key_file)
    start = rpc.status().latest_height + 1
    broadcast_evidence(rpc, build_duplicate_vote_evidence(rpc, key, height))
    return find_evidence(rpc, key.address, start, timeout)
