"""A forecast of the next block's proposer, from the proposers of the last blocks.

CometBFT picks each height's proposer by weighted round-robin over the validator set
(spec/consensus/proposer-selection.md). While the set and its powers stay the same and
blocks are decided in round 0, the sequence of proposers is periodic: with equal powers
every validator proposes once per period of N heights, and with other powers the period is
longer. The forecast finds the shortest period p such that the last 3p proposers repeat
with period p (three times, so that a validator that happens to propose twice in a row is
not taken for the only one), and predicts the proposer p heights back.

It only decides whether a node starts work early (the VDF head start, chain/app.py): a
wrong forecast costs one wasted evaluation and never changes a block. After a change of
the validator set, a restart, or a round-1 block it is silent or wrong for up to 3p
heights, then right again.
"""

from __future__ import annotations

from collections import deque
from typing import Final

WINDOW: Final[int] = 128
"""Proposers remembered: periods up to WINDOW // 3 heights are recognised."""


class ProposerForecast:
    """The proposers of consecutive heights, as FinalizeBlock reports them."""

    def __init__(self, window: int = WINDOW) -> None:
        self._recent: deque[bytes] = deque(maxlen=window)
        self._height = 0

    def record(self, height: int, proposer: bytes) -> None:
        """The block at `height` was proposed by `proposer` (a gap starts the record over)."""
        if height != self._height + 1:
            self._recent.clear()
        self._recent.append(proposer)
        self._height = height

    def next_proposer(self) -> bytes | None:
        """The likely proposer of the height after the last recorded; None without a period."""
        recent = list(self._recent)
        for period in range(1, len(recent) // 3 + 1):
            tail = recent[-3 * period:]
            if tail[:period] == tail[period:2 * period] == tail[2 * period:]:
                return recent[-period]
        return None
