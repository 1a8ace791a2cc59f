"""The consensus validator set kept in state, readable by height.

CometBFT applies the `validator_updates` returned by FinalizeBlock(H) from height H+2, and the
set InitChain settles on signs the first two blocks. So after FinalizeBlock(H) the state holds
the sets that sign blocks H-1, H, H+1 and H+2 (`vset/` + u64 height); older ones are pruned.
These are what the oracle (vote-extension weights) and the staking module (power at an
infraction, liveness) read. `state/staking.py` decides the changes; this module only stores
sets and applies changes to them.

Stored value: the validators in CometBFT's order (power descending, then address ascending),
each as 32-byte ed25519 public key ‖ u64 power. The consensus address is derived, never stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from state import keys

if TYPE_CHECKING:
    from state.params import KVState
    from state.store import WorkingState

PUB_KEY_BYTES: Final = 32
CONSENSUS_ADDRESS_BYTES: Final = 20
_ENTRY_BYTES: Final = PUB_KEY_BYTES + 8
KEPT_PAST_SETS: Final = 1
"""Sets older than the executed height kept besides it (H-1 after FinalizeBlock(H))."""


def consensus_address(pub_key: bytes) -> bytes:
    """CometBFT's validator address: the first 20 bytes of SHA-256 of the ed25519 public key."""
    return hashlib.sha256(pub_key).digest()[:CONSENSUS_ADDRESS_BYTES]


@dataclass(frozen=True, slots=True)
class Validator:
    """One member of the consensus validator set."""

    address: bytes
    """20-byte CometBFT consensus address (`consensus_address(pub_key)`)."""
    pub_key: bytes
    """32-byte ed25519 consensus public key."""
    power: int
    """Voting power (> 0 for a member)."""

    @classmethod
    def of(cls, pub_key: bytes, power: int) -> Validator:
        return cls(address=consensus_address(pub_key), pub_key=pub_key, power=power)


def sort_validators(validators: Iterable[Validator]) -> tuple[Validator, ...]:
    """CometBFT's order: power descending, then address ascending."""
    return tuple(sorted(validators, key=lambda v: (-v.power, v.address)))


def encode_validator_set(validators: Sequence[Validator]) -> bytes:
    return b"".join(v.pub_key + v.power.to_bytes(8, "big") for v in sort_validators(validators))


def decode_validator_set(raw: bytes) -> tuple[Validator, ...]:
    if len(raw) % _ENTRY_BYTES:
        raise ValueError(f"validator set record of {len(raw)} bytes is not whole entries")
    return tuple(
        Validator.of(raw[i : i + PUB_KEY_BYTES],
                     int.from_bytes(raw[i + PUB_KEY_BYTES : i + _ENTRY_BYTES], "big"))
        for i in range(0, len(raw), _ENTRY_BYTES)
    )


def total_power(validators: Iterable[Validator]) -> int:
    """Sum of the voting power of `validators`."""
    return sum(v.power for v in validators)


def has_validator_set(ws: KVState, height: int) -> bool:
    return ws.get(keys.valset_key(height)) is not None


def get_validator_set(ws: KVState, height: int) -> tuple[Validator, ...]:
    """The validators that sign block `height`, in CometBFT order.

    Available for the last executed height H, H-1, H+1 and H+2 (and, before block 1, for
    the first two heights). Raises LookupError for any other height: asking for one is a bug.
    """
    raw = ws.get(keys.valset_key(height))
    if raw is None:
        raise LookupError(f"no validator set stored for height {height}")
    return decode_validator_set(raw)


def get_total_power(ws: KVState, height: int) -> int:
    """Total voting power of the set that signs block `height`."""
    return total_power(get_validator_set(ws, height))


def find_validator(validators: Iterable[Validator], address: bytes) -> Validator | None:
    return next((v for v in validators if v.address == address), None)


def set_validator_set(ws: WorkingState, height: int, validators: Sequence[Validator]) -> None:
    ws.set(keys.valset_key(height), encode_validator_set(validators))


def apply_updates(
    current: Iterable[Validator], updates: Iterable[Validator]
) -> tuple[Validator, ...]:
    """The set after CometBFT applies `updates` (power 0 removes, otherwise add or replace)."""
    members = {v.address: v for v in current}
    for update in updates:
        if update.power == 0:
            members.pop(update.address, None)
        else:
            members[update.address] = update
    return sort_validators(members.values())


def process_initial_validator_set(
    ws: WorkingState, initial_height: int, validators: Sequence[Validator]
) -> None:
    """InitChain: the genesis set signs `initial_height` and `initial_height + 1`."""
    set_validator_set(ws, initial_height, validators)
    set_validator_set(ws, initial_height + 1, validators)


def process_validator_updates(
    ws: WorkingState, height: int, updates: Sequence[Validator]
) -> tuple[Validator, ...]:
    """End of FinalizeBlock(`height`): store the set for `height + 2` and prune old sets.

    Returns the new set. `updates` must hold each address at most once.
    """
    addresses = [u.address for u in updates]
    if len(set(addresses)) != len(addresses):
        raise RuntimeError("a validator update lists the same key twice")
    new_set = apply_updates(get_validator_set(ws, height + 1), updates)
    set_validator_set(ws, height + 2, new_set)
    stale = height - 1 - KEPT_PAST_SETS
    if stale >= 0:
        ws.delete(keys.valset_key(stale))
    return new_set
