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

With optimistic execution (chain/app.py) the block is executed from its ProcessProposal on,
and the replay need not wait for FinalizeBlock either: `speculate` runs it as soon as the
execution ends, while the votes travel, and txs arriving from then on are checked against
the replay, as they would be after FinalizeBlock. FinalizeBlock of that block then finds the
next check state ready (`after_block` adopts it), so the replay no longer sits between the
decision and Commit, where CometBFT holds the mempool lock and new txs wait. If another
block is decided instead (a later round), `drop_speculation` returns to the check state
before the block, with the txs that arrived meanwhile checked onto it, and `after_block`
replays onto the decided block as without speculation. A tx refused meanwhile because it
conflicted with the dropped block stays refused: like any CheckTx answer, it is local advice
to the mempool, and the recheck still gives a plain recheck's answers.

`check` must be deterministic in (state, height, raw tx): `OptioApp._check_in`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from abci.proto import abci_pb2
from state.store import Store, WorkingState

CheckFn = Callable[[WorkingState, int, bytes], abci_pb2.ResponseCheckTx]
"""(check state, height, raw tx) -> CheckTx answer; a passing tx leaves its writes in the
check state."""


@dataclass(frozen=True, slots=True)
class _Speculation:
    """A replay onto a block executed ahead of its decision (`MempoolMirror.speculate`)."""

    block_state: WorkingState
    height: int
    prior_state: WorkingState
    """The check state before the speculation, and the height it checks for."""
    prior_height: int
    arrivals_from: int
    """Txs of the mempool list from this index on arrived during the speculation."""


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
        self._speculation: _Speculation | None = None

    def reset(self, state: WorkingState, height: int) -> None:
        """Check against `state` for `height` from now on, with an empty mempool (InitChain)."""
        self.state, self.height = state, height
        self._txs, self._expected, self._passed = {}, None, None
        self._speculation = None

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

    def speculate(self, block_state: WorkingState, height: int, block_txs: Iterable[bytes]) -> None:
        """Block `height` was executed ahead, into `block_state`, and is likely to be decided:
        replay onto it the txs it leaves in the mempool and check new txs against that, as
        `after_block` would. Not while the recheck after the last commit may still be under
        way: txs expected in it and not rechecked yet, or off script."""
        if self._passed is not None:
            if self._expected is None or self._cursor < len(self._expected):
                return
            self.end_recheck()
        self.drop_speculation()
        in_block = set(block_txs)
        speculation = _Speculation(block_state, height, self.state, self.height, len(self._txs))
        self.state, self.height = block_state.overlay(), height + 1
        self._expected = [(raw, self._check(self.state, self.height, raw))
                          for raw in self._txs if raw not in in_block]
        self._speculation = speculation

    def drop_speculation(self) -> None:
        """The block speculated on will not be decided (or not in this round): check against
        the state before it again, with the txs that arrived meanwhile checked onto it."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return
        self.state, self.height = speculation.prior_state, speculation.prior_height
        self._expected = None
        for raw in list(self._txs)[speculation.arrivals_from:]:
            self._check(self.state, self.height, raw)

    def after_block(self, block_state: WorkingState, height: int, block_txs: Iterable[bytes]) -> None:
        """FinalizeBlock of `height` ended with `block_state`: check against it from now on,
        and prepare the answers of the recheck that follows its commit (done already if this
        is the block speculated on)."""
        speculation, self._speculation = self._speculation, None
        if (speculation is not None and speculation.block_state is block_state
                and speculation.height == height):
            for raw in block_txs:
                self._txs.pop(raw, None)
            return
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
