"""Turn a CometBFT genesis (from `cometbft init`/`testnet`) into Optio's full genesis.json.

CometBFT writes every int64 as a JSON string; so does this module. The validators,
genesis time and initial height of the input are kept; `app_state`, the chain id
(when given) and the consensus parameters are set for Optio.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from genesis.schema import AppGenesis

DEFAULT_BLOCK_MAX_BYTES = 4 * 1024 * 1024
"""4 MiB per block: room for hundreds of max-size txs plus the oracle and ordering txs."""
EVIDENCE_MAX_AGE_BLOCKS = 100_000
EVIDENCE_MAX_AGE_NANOS = 48 * 3600 * 10**9
"""Evidence older than both 100k blocks and 48 hours is void (CometBFT needs both)."""
EVIDENCE_MAX_BYTES = 1024 * 1024


def consensus_params(*, block_max_bytes: int, vote_extensions_enable_height: int) -> dict[str, Any]:
    """The `consensus_params` object for an Optio chain."""
    return {
        "block": {"max_bytes": str(block_max_bytes), "max_gas": "-1"},
        "evidence": {
            "max_age_num_blocks": str(EVIDENCE_MAX_AGE_BLOCKS),
            "max_age_duration": str(EVIDENCE_MAX_AGE_NANOS),
            "max_bytes": str(EVIDENCE_MAX_BYTES),
        },
        "validator": {"pub_key_types": ["ed25519"]},
        "version": {"app": "0"},
        "abci": {"vote_extensions_enable_height": str(vote_extensions_enable_height)},
    }


def complete_genesis(
    cometbft_genesis: dict[str, Any],
    app_genesis: AppGenesis,
    *,
    chain_id: str | None = None,
    block_max_bytes: int = DEFAULT_BLOCK_MAX_BYTES,
    vote_extensions_enable_height: int = 0,
) -> dict[str, Any]:
    """A new genesis dict: the input plus Optio's app_state and consensus params.

    Raises ValueError when the pieces cannot work together: a block smaller than
    one max-size tx or than the evidence limit, or a negative enable height.
    """
    if block_max_bytes < app_genesis.params.max_tx_bytes:
        raise ValueError(
            f"block max_bytes {block_max_bytes} is below the app's max_tx_bytes "
            f"{app_genesis.params.max_tx_bytes}: no max-size tx could ever be included"
        )
    if block_max_bytes <= EVIDENCE_MAX_BYTES:
        raise ValueError(f"block max_bytes {block_max_bytes} must exceed evidence max_bytes {EVIDENCE_MAX_BYTES}")
    if vote_extensions_enable_height < 0:
        raise ValueError("vote_extensions_enable_height cannot be negative (0 disables them)")
    genesis = copy.deepcopy(cometbft_genesis)
    if chain_id is not None:
        genesis["chain_id"] = chain_id
    genesis["consensus_params"] = consensus_params(
        block_max_bytes=block_max_bytes,
        vote_extensions_enable_height=vote_extensions_enable_height,
    )
    genesis["app_state"] = app_genesis.to_json()
    return genesis


def read_genesis(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        genesis: dict[str, Any] = json.load(f)
    return genesis


def write_genesis(path: str, genesis: dict[str, Any]) -> None:
    """Write genesis.json atomically (temp file + rename), so a crash never leaves half a file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(genesis, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
