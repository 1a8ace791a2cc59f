"""The app's mirror of CometBFT's mempool: the recheck after a block becomes a lookup.

CometBFT's mempool (v0.38 `CListMempool`) keeps the txs CheckTx accepted, in the order of the
answers. After each block it drops the block's txs and, holding the mempool lock inside
Commit, sends every remaining tx again as a RECHECK CheckTx, in that order, against the new
state; a tx that now fails leaves the mempool. That recheck sits between two blocks on the
critical path, and it repeats work the app can do earlier: under ABCI 2.0 a finalized block
is always the one committed, so the new state is known as soon as FinalizeBlock ends.

So `after_block` starts the next check state right there, as an overlay of the finalized
block's state (`WorkingState.overlay`), replays onto it the txs left in the mempool and keeps
each answer; txs arriving from then on are checked against it as well.

Most of that replay is not run again. Every check is traced (`WorkingState.traced`): the keys
it read, the values it wrote, the counters it added to (the fee pool). A tx left in the
mempool whose check read no key that changed since — written by the block, by a mempool tx
the block took, or by a tx re-checked just before it with another outcome — reads the same
values again, so its check gives the same answer and the same writes: those are applied
without checking. The rest are checked for real. Only txs whose check the app declares a
function of the state alone (`replayable`: no height in it) take the short way. At Commit the overlay
is rebased onto the committed state (the same content) and the recheck that follows only
confirms that CometBFT sends the txs expected, in the order expected, and returns the answers
kept. Anything else — a tx the mirror does not expect next (CometBFT dropped one because the
mempool was full, or a TTL expired), or txs it expected that never come — makes it rebuild
the check state from the committed state and the txs rechecked so far, and check the rest for
real: exactly what the recheck computes without the mirror. The answers are therefore always
those of a plain recheck, in every case.

`check` must be deterministic in (state, height, raw tx): `OptioApp._check_tx`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from abci.proto import abci_pb2
from state.store import Footprint, Store, WorkingState

CheckFn = Callable[[WorkingState, int, bytes, "bool | None"], abci_pb2.ResponseCheckTx]
"""(check state, height, raw tx, signature verdict or None) -> CheckTx answer; a passing tx
leaves its writes in the check state."""

ReplayableFn = Callable[[bytes], bool]
"""Whether the check of a tx that passed depends on nothing but the state it read (not on the
height, say), so that the same reads give the same answer and writes at any height."""


class _Checked:
    """A passing check of one mempool tx, as traced (a plain class: one per check)."""

    __slots__ = ("response", "reads", "writes", "added", "replayable")

    def __init__(self, response: abci_pb2.ResponseCheckTx, footprint: Footprint,
                 state: WorkingState, replayable: bool) -> None:
        self.response = response
        self.reads = footprint.reads
        self.writes = [(key, state.get(key)) for key in footprint.written]
        """Each written key with its value after the tx (None: deleted)."""
        self.added = footprint.added
        # A key both set and added to is written whole: its value would count the addition
        # twice; reads by iteration are not traced key by key.
        self.replayable = (replayable and footprint.exhaustive
                           and footprint.written.isdisjoint(footprint.added))

    def touched(self) -> set[bytes]:
        return {key for key, _ in self.writes} | self.added.keys()


class MempoolMirror:
    """The check state of CheckTx and what the app knows of CometBFT's mempool list."""

    def __init__(self, store: Store, check: CheckFn, replayable: ReplayableFn) -> None:
        self._store = store
        self._check_fn = check
        self._replayable = replayable
        self.state = store.working()
        # The height the txs are checked for: the block after the state's.
        self.height = store.last_height + 1
        # Txs believed in CometBFT's mempool, in its order (dict: ordered, fast removal), with
        # their last check; None for a tx whose check is not known (it is checked again).
        self._txs: dict[bytes, _Checked | None] = {}
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

    def check(self, raw: bytes, signature_valid: bool | None = None) -> abci_pb2.ResponseCheckTx:
        """A new tx (CheckTx of type NEW)."""
        self.end_recheck()
        response, checked = self._check(raw, signature_valid)
        if checked is not None:
            self._txs[raw] = checked
            if self._expected is not None:
                self._expected.append((raw, response))
        return response

    def recheck(self, raw: bytes) -> abci_pb2.ResponseCheckTx:
        """A RECHECK CheckTx: the answer prepared for it, or a real check once off script."""
        passed = self._passed
        if passed is None:  # not after a commit: nothing to track
            return self._check(raw, None)[0]
        expected = self._expected
        if expected is not None and self._cursor < len(expected) and expected[self._cursor][0] == raw:
            response = expected[self._cursor][1]
            self._cursor += 1
        else:
            if expected is not None:
                self._rebuild(passed)
            response, checked = self._check(raw, None)
            self._txs[raw] = checked
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
        known = self._txs
        self._txs = {raw: known.get(raw) for raw in passed}
        self._expected, self._passed = None, None

    def after_block(self, block_state: WorkingState, height: int, block_txs: Iterable[bytes]) -> None:
        """FinalizeBlock of `height` ended with `block_state`: check against it from now on,
        and prepare the answers of the recheck that follows its commit."""
        self.end_recheck()
        # Keys whose value may differ from what the txs left read when they were checked.
        changed = block_state.staged_keys()
        for raw in block_txs:
            if raw in self._txs:
                gone = self._txs.pop(raw)
                changed |= gone.touched() if gone is not None else set()
        self.state, self.height = block_state.overlay(), height + 1
        self._expected = []
        unknown = False  # a tx whose earlier writes are not known was checked again
        for raw, before in self._txs.items():
            if (before is not None and before.replayable and not unknown
                    and before.reads.isdisjoint(changed)):
                self._apply(before)
                response: abci_pb2.ResponseCheckTx = before.response
            else:
                response, after = self._check(raw, None)
                self._txs[raw] = after
                if before is None:
                    unknown = True
                else:
                    changed |= before.touched()
                if after is not None:
                    changed |= after.touched()
            self._expected.append((raw, response))

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
            self._txs[raw] = self._check(raw, None)[1]
        self._expected = None

    def _check(self, raw: bytes,
               signature_valid: bool | None) -> tuple[abci_pb2.ResponseCheckTx, _Checked | None]:
        """Check `raw` on the check state, traced: the answer, and the check if it passed."""
        with self.state.traced() as footprint:
            response = self._check_fn(self.state, self.height, raw, signature_valid)
        if response.code != 0:
            return response, None
        return response, _Checked(response, footprint, self.state, self._replayable(raw))

    def _apply(self, checked: _Checked) -> None:
        """The writes of a check whose reads did not change, as the check would make them."""
        state = self.state
        for key, value in checked.writes:
            if value is None:
                state.delete(key)
            else:
                state.set(key, value)
        for key, amount in checked.added.items():
            state.add_u64(key, amount)
