"""Chain-level parameters: typed value, defaults, validation, and storage.

Each parameter is stored under its own key (`state.keys.param_key(name)`) as an
8-byte big-endian unsigned integer, so the encoding is canonical and a future
parameter is a new key rather than a format change. Parameters are written at
genesis; a missing parameter key at read time is a bug, not a default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

from state import keys
from state.codec import decode_u64, encode_u64
from state.denoms import MAX_AMOUNT


class KVState(Protocol):
    """The slice of the store's WorkingState contract these functions need."""

    def get(self, key: bytes) -> bytes | None: ...

    def set(self, key: bytes, value: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Params:
    """Chain parameters. All are non-negative integers."""

    max_tx_bytes: int = 16_384
    """Largest accepted raw transaction (bytes)."""
    max_memo_bytes: int = 256
    """Longest memo, in UTF-8 bytes."""
    max_msgs_per_tx: int = 32
    """Most messages in one transaction."""
    min_fee_uusd: int = 100
    """Flat minimum fee per transaction, in uusd."""
    nonce_window: int = 256
    """How many nonces at or below an account's highest nonce stay usable (multiple of 8)."""
    nonce_max_ahead: int = 256
    """How far above an account's highest used nonce a new nonce may jump."""
    # Staking, slashing and rewards (docs/staking.md). Fractions are parts per million.
    max_validators: int = 100
    """Size of the active set: the top N validators by power."""
    unbonding_time_s: int = 21 * 24 * 3600
    """Block-time seconds from undelegating (or leaving the set) until tokens are free."""
    max_entries: int = 7
    """Most unbonding (or redelegation) entries per delegator and validator (pair)."""
    min_self_delegation_uopt: int = 1_000_000
    """Self-bond a validator's operator must keep (uopt); below it the validator is jailed."""
    slash_fraction_double_sign_ppm: int = 50_000
    """Share of stake burnt for double signing (5%)."""
    slash_fraction_downtime_ppm: int = 100
    """Share of stake burnt for downtime (0.01%)."""
    signed_blocks_window: int = 100
    """Sliding window of blocks over which liveness is measured."""
    min_signed_per_window_ppm: int = 500_000
    """Share of the window a validator must sign; fewer means slash and jail."""
    downtime_jail_duration_s: int = 600
    """Block-time seconds a validator jailed for downtime must wait before unjailing."""
    power_reduction: int = 1_000_000
    """uopt per unit of voting power: power = tokens // power_reduction."""
    inflation_uopt_per_block: int = 1_000_000
    """uopt minted as block reward each block that has staked signers."""
    proposer_bonus_ppm: int = 10_000
    """Share of each block's rewards paid first to the block proposer (1%)."""
    # VDF fair ordering (docs/ordering.md).
    vdf_iterations: int = 16_000
    """T: sequential class-group squarings of each block's ordering VDF (docs/ordering.md
    derives the default from the measured squaring rate and the block interval)."""
    vdf_discriminant_bits: int = 1024
    """Size of the class-group discriminant derived from each block seed (multiple of 32)."""


DEFAULT_PARAMS = Params()
PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Params))

_BOUNDS: dict[str, tuple[int, int]] = {
    "max_tx_bytes": (256, 4 * 1024 * 1024),
    "max_memo_bytes": (0, 4096),
    "max_msgs_per_tx": (1, 1024),
    "min_fee_uusd": (0, MAX_AMOUNT),
    "nonce_window": (8, 4096),
    "nonce_max_ahead": (1, 1 << 20),
    "max_validators": (1, 10_000),
    "unbonding_time_s": (0, 10 * 365 * 24 * 3600),
    "max_entries": (1, 1_000),
    "min_self_delegation_uopt": (1, MAX_AMOUNT),
    "slash_fraction_double_sign_ppm": (0, 1_000_000),
    "slash_fraction_downtime_ppm": (0, 1_000_000),
    "signed_blocks_window": (1, 1_000_000),
    "min_signed_per_window_ppm": (0, 1_000_000),
    "downtime_jail_duration_s": (0, 10 * 365 * 24 * 3600),
    "power_reduction": (1, 10**12),
    "inflation_uopt_per_block": (0, 10**15),
    "proposer_bonus_ppm": (0, 1_000_000),
    "vdf_iterations": (1, 100_000_000),
    # chiavdf serializes forms of discriminants up to 1024 bits; far below 512 the class
    # group order becomes computable and the VDF output could be found without squaring.
    "vdf_discriminant_bits": (512, 1024),
}
"""Inclusive sane ranges; genesis outside them is rejected."""


def param_problem(name: str, value: int) -> str | None:
    """Why `value` is not acceptable for parameter `name`, or None when it is."""
    low, high = _BOUNDS[name]
    if not low <= value <= high:
        return f"must be between {low} and {high}, got {value}"
    if name == "nonce_window" and value % 8:
        return f"must be a multiple of 8, got {value}"
    if name == "vdf_discriminant_bits" and value % 32:
        return f"must be a multiple of 32, got {value}"
    return None


def get_params(ws: KVState) -> Params:
    """Read every parameter from state (written by genesis)."""
    values: dict[str, int] = {}
    for name in PARAM_NAMES:
        raw = ws.get(keys.param_key(name))
        if raw is None:
            raise RuntimeError(f"parameter {name} missing from state; genesis was not processed")
        values[name] = decode_u64(raw)
    return Params(**values)


def set_params(ws: KVState, params: Params) -> None:
    """Write every parameter; callers validate first (genesis does)."""
    for name in PARAM_NAMES:
        ws.set(keys.param_key(name), encode_u64(getattr(params, name)))


def set_chain_id(ws: KVState, chain_id: str) -> None:
    """Record the chain id at genesis: later blocks need it and no ABCI request carries it."""
    ws.set(keys.CHAIN_ID_KEY, chain_id.encode())


def get_chain_id(ws: KVState) -> str | None:
    """The chain id written at genesis, or None before InitChain."""
    raw = ws.get(keys.CHAIN_ID_KEY)
    return None if raw is None else raw.decode()
