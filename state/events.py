"""Typed ABCI events emitted by state transitions.

Transitions return these plain values; the ABCI layer turns them into
`tendermint.abci.Event` messages. Attributes are an ordered tuple, not a dict,
because their order is part of the block results CometBFT hashes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    attributes: tuple[tuple[str, str], ...]
