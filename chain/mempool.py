"""The app's mirror of CometBFT's mempool: the recheck after a block becomes a lookup.

CometBFT's mempool (v0.38 `CListMempool`) keeps the txs CheckTx accepted, in the order of the
answers. After each block it drops the block's txs and, holding the mempool lock inside
Commit, sends every remaining tx again as a RECHECK CheckTx, in that order, against the new
state; a tx that now fails leaves the mempool. That recheck sits between two blocks on the
critical path, and it repeats work the app can do earlier: under ABCI 2.0 a finalized block
is always the one committed, so the new state is known as soon as FinalizeBlock ends.

So `after_block` starts the next check state right there, as an overlay of the finalized
block's state (`WorkingState.overlay`), replays onto it the txs left in the mempool and keeps
each answer; txs arriving from then on are checked against it as well. At Commit the overlay
is rebased onto the committed state (the same content) and the recheck that follows only
confirms that CometBFT sends the txs expected, in the order expected, and returns the answers
kept. Anything else — a tx the mirror does not expect next (CometBFT dropped one because the
mempool was full, or a TTL expired), or txs it expected that never come — makes it rebuild
the check state from the committed state and the txs rechecked so far, and check the rest for
real: exactly what the recheck computes without the mirror. The answers are therefore always
those of a plain recheck, in every case.

`check` must be deterministic in (state, height, raw tx): `OptioApp._check_in`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from abci.proto import abci_pb2
from state.store import Store, WorkingState

CheckFn = Callable[[WorkingState, int, bytes], abci_pb2.ResponseCheckTx]
"""(check state, height, raw tx) -> CheckTx answer; a passing tx leaves its writes in the
check state."""


class MempoolMirror:
    """The check state of CheckTx and what the app knows of CometBFT's mempool list."""

    def __init__(self, store: Store, check: CheckFn) -> None:
        self._store = store
        self._check = check
        self.state = store.working()
        # The height the txs are checked for: the block after the state's.
        self.height = store.last_height + 1
        # Txs believed in CometBFT's mempool, in its order (dict: ordered, fast removal).
        self._txs: dict[bytes, None] = {}
        # From after_block to the end of the recheck: the answers the recheck should give,
        # in order, checked on `state`; None when there is nothing prepared.
        self._expected: list[tuple[bytes, abci_pb2.ResponseCheckTx]] | None = None
        # During the recheck that follows a commit: the txs that passed it so far, and how
        # many expected answers were used; None outside a recheck.
        self._passed: list[bytes] | None = None
        self._cursor = 0

    def reset(self, state: WorkingState, height: int) -> None:
        """Check against `state` for `height` from now on, with an empty mempool (InitChain)."""
        self.state, self.height = state, height
        self._txs, self._expected, self._passed = {}, None, None

    def check(self, raw: bytes) -> abci_pb2.ResponseCheckTx:
        """A new tx (CheckTx of type NEW)."""
        self.end_recheck()
        response = self._check(self.state, self.height, raw)
        if response.code == 0:
            self._txs[raw] = None
            if self._expected is not None:
                self._expected.append((raw, response))
        return response

    def recheck(self, raw: bytes) -> abci_pb2.ResponseCheckTx:
        """A RECHECK CheckTx: the answer prepared for it, or a real check once off script."""
        passed = self._passed
        if passed is None:  # not after a commit: nothing to track
            return self._check(self.state, self.height, raw)
        expected = self._expected
        if expected is not None and self._cursor < len(expected) and expected[self._cursor][0] == raw:
            response = expected[self._cursor][1]
            self._cursor += 1
        else:
            if expected is not None:
                self._rebuild(passed)
            response = self._check(self.state, self.height, raw)
        if response.code == 0:
            passed.append(raw)
        return response

    def end_recheck(self) -> None:
        """Close the recheck after a commit, if one is open: called before any other request
        that uses the check state or the mempool (CometBFT sends none during the recheck)."""
        passed = self._passed
        if passed is None:
            return
        if self._expected is not None and self._cursor < len(self._expected):
            self._rebuild(passed)  # some expected txs were not in CometBFT's mempool
        self._txs = dict.fromkeys(passed)
        self._expected, self._passed = None, None

    def after_block(self, block_state: WorkingState, height: int, block_txs: Iterable[bytes]) -> None:
        """FinalizeBlock of `height` ended with `block_state`: check against it from now on,
        and prepare the answers of the recheck that follows its commit."""
        self.end_recheck()
        for raw in block_txs:
            self._txs.pop(raw, None)
        self.state, self.height = block_state.overlay(), height + 1
        self._expected = [(raw, self._check(self.state, self.height, raw))
                          for raw in self._txs]

    def after_commit(self) -> None:
        """The store committed: keep the prepared check state if it was built on the block
        just committed (else start over from the committed state); a recheck may follow."""
        try:
            self.state.rebase()
        except ValueError:
            self.state, self._expected = self._store.working(), None
        self.height = self._store.last_height + 1
        self._passed, self._cursor = [], 0

    def expected_survivors(self) -> list[bytes]:
        """The txs the coming recheck should keep, in mempool order (after a commit)."""
        return [raw for raw, response in self._expected or () if response.code == 0]

    def _rebuild(self, passed: list[bytes]) -> None:
        """Off script: the committed state plus the txs that passed the recheck so far (a
        failing tx leaves no trace, so they alone rebuild it); real checks from now on."""
        self.state = self._store.working()
        for raw in passed:
            self._check(self.state, self.height, raw)
        self._expected = None
