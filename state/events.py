"""Typed ABCI events emitted by state transitions.

Transitions return these plain values; the ABCI layer turns them into
`tendermint.abci.Event` messages. Attributes are an ordered tuple, not a dict,
because their order is part of the block results CometBFT hashes.

Which attributes CometBFT indexes (for `tx_search` and `block_search`) is decided here, once,
by attribute key: the parties a user searches by. Every indexed attribute costs each node a
write to CometBFT's index per tx, so amounts, fees, nonces and other figures, which nobody
looks a tx up by, are carried in the results but not indexed (docs/transactions.md, Events).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

INDEXED_KEYS: Final[frozenset[str]] = frozenset({
    "signer", "sender", "recipient",                                  # tx, transfer
    "validator", "delegator", "source_validator", "destination_validator",  # staking
    "underlying",                                                     # oracle_price
})
"""Attribute keys marked `index=true`, whatever the event type."""


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    attributes: tuple[tuple[str, str], ...]
