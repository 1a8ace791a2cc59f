"""The Optio application: one method per ABCI 2.0 request, called by `abci/server.py`.

Block lifecycle (DESIGN §2) and where state lives between calls:

- `init_chain` loads genesis into a fresh `WorkingState` kept as the *pending* state; it is
  persisted by the first `commit`, so a crash before that simply makes CometBFT call
  `init_chain` again (Info then still reports height 0).
- `finalize_block` executes the block's txs on the pending state (each tx in its own
  `ws.transaction()`, so a failing tx leaves no trace) and returns the app hash. Nothing is
  written to disk here. Under the ABCI server a block accepted in `process_proposal` has
  usually been executed already, on a working state of its own, while the votes travelled
  (optimistic execution, `_execute_optimistically`); FinalizeBlock of exactly that block takes
  its result, any other block discards it.
- `commit` writes state, height and app hash in one atomic LevelDB batch (`Store.commit`).
- CheckTx works on its own check state, kept by `chain/mempool.MempoolMirror`: from the end
  of FinalizeBlock it is an overlay of the finalized block's state with the txs left in the
  mempool replayed onto it, so that the recheck CometBFT runs inside Commit is answered from
  work already done.
- `info` returns exactly the committed height and app hash, so CometBFT can replay whatever
  it has beyond them after a crash at any point.

Validity is one function in three places (STYLE §1): `decode_tx` (every stateless check,
signature included) is what CheckTx, PrepareProposal and ProcessProposal all apply, and
`process_tx` adds the stateful checks in CheckTx and FinalizeBlock. Params are read once from
state (they only change at genesis) and passed down. ProcessProposal rejects a block carrying a tx that
fails `decode_tx` — an honest proposer never includes one — and depends only on the block
and the last committed state. A tx that passes `decode_tx` but fails statefully (for example
a balance spent by an earlier tx of the same block) is kept in the block and fails there with
its numbered code, changing nothing.

With `check_invariants` (localnets and tests) every block is followed by a check of the
state invariants; a violation stops the node, like the Cosmos SDK's crisis module. Supply
conservation is checked in full on the committed state once per process, then on each
block's own writes (which, given a conserving state before it, is the same check).

`OptioError` means bad input and becomes a numbered ABCI code; any other exception is a
bug and propagates, which stops the node (abci/server.py) rather than answering with
invented data.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Final, TypeVar

from abci.proto import abci_pb2, crypto_pb2
from chain.ed25519_batch import SignatureBatch
from chain.mempool import MempoolMirror
from chain.oracle.extension import ExtensionError, decode_extension, encode_extension
from chain.oracle.feeder import Feeder
from chain.oracle.tx import check_oracle_tx, decode_oracle_tx
from chain.oracle.proposal import (
    ProposalContext,
    ProposalRejected,
    block_bytes,
    build_proposal,
    check_proposal,
    finalized_beacon,
    injected_budget,
)
from chain.ordering import BlockOrder, ProveJob, compute_block_seed, compute_seed, is_injected_tx
from chain.proposers import ProposerForecast
from chain.query import answer_query
from chain.staking_block import process_staking_begin_block
from chain.tx import SignedTx, decode_tx, signature_claim
from genesis.process import process_genesis
from genesis.schema import AppGenesis
from state.accounts import is_supply_change_conserved, is_supply_conserved, process_tx
from state.beacon import process_beacon
from state.block import NANOS_PER_SECOND, BlockHeader, process_block_header
from state.errors import InjectedTxNotAllowed, OptioError, QueryHeightUnavailable
from state.events import INDEXED_KEYS, Event
from state.oracle import (
    OracleParams,
    get_oracle_params,
    is_oracle_tx_required,
    process_oracle_aggregate,
    set_vote_extensions_enable_height,
)
from state.params import Params, get_chain_id, get_params
from state.staking import (
    check_staking_invariants,
    process_genesis_validators,
    process_staking_end_block,
)
from state.store import Store, WorkingState
from state.params import KVState
from state.validators import Validator, get_validator_set

if TYPE_CHECKING:
    from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

_T = TypeVar("_T")
_R = TypeVar("_R")

log = logging.getLogger("optio.app")

ABCI_VERSION: Final[str] = "2.0.0"
APP_VERSION: Final[int] = 1
SOFTWARE_VERSION: Final[str] = "0.1.0"

# The answer to every tx CheckTx accepts: one shared object, never mutated, so the ABCI
# server frames it once per batch (abci/server.py).
_CHECK_OK: Final = abci_pb2.ResponseCheckTx(code=0)
_ACCEPT: Final[int] = abci_pb2.ResponseProcessProposal.ACCEPT
_REJECT: Final[int] = abci_pb2.ResponseProcessProposal.REJECT
# Decoded txs by raw bytes: a tx's signature is checked once (usually in CheckTx) and the
# result reused by ProcessProposal and FinalizeBlock. Decoding depends only on the raw bytes,
# the chain id and the params, which are fixed for the life of the process.
_DECODE_CACHE_SIZE: Final[int] = 50_000
# Default for how long the proposer's VDF over the selected txs may run (about ten times the
# measured prove time at the default T, half the 2 s propose timeout of localnets) before the
# block goes out with the precomputed empty-set evaluation and no user txs (docs/ordering.md).
# Proposer policy, not consensus: set per node with `vdf_deadline_ms` in app.toml.
DEFAULT_VDF_DEADLINE_S: Final[float] = 1.0
# A CheckTx batch with fewer unseen txs than this is verified inline: a thread hand-off costs
# about as much as a few verifications. Larger ones are verified in groups of _VERIFY_GROUP
# requests by _VERIFY_THREADS threads; a group is checked as soon as it is verified, so that
# checking overlaps the verification of the next ones.
_MIN_SIGNATURE_BATCH: Final[int] = 8
_VERIFY_GROUP: Final[int] = 256
_VERIFY_THREADS: Final[int] = max(1, min(4, os.cpu_count() or 1))
# The head start is used only if its txs make at least this share of the bytes selected
# for the block. Evaluating again over all of them costs one VDF (~120 ms); keeping only
# the head start's txs would hold the others back a whole block: after a block that
# emptied the mempool, the head start covers the few txs left, while most of the next
# block arrives between Commit and PrepareProposal.
_HEAD_START_MIN_SHARE: Final[float] = 0.5
# Txs a stepwise FinalizeBlock runs between two turns of the event loop (~10 ms of work).
_FINALIZE_STEP: Final[int] = 256


@dataclass(frozen=True, slots=True)
class _HeadStart:
    """A VDF evaluation started when a block is decided, for the next height, over `txs`
    (`_start_head_start`)."""

    height: int
    txs: tuple[bytes, ...]
    job: ProveJob


@dataclass(frozen=True, slots=True)
class _Optimistic:
    """A block executing since its ProcessProposal (`OptioApp._execute_optimistically`)."""

    block: abci_pb2.RequestFinalizeBlock
    """The FinalizeBlock request of this block, as CometBFT will send it if it is decided."""
    ws: WorkingState
    task: asyncio.Task[abci_pb2.ResponseFinalizeBlock]


def _check_or_rejection(ctx: ProposalContext, txs: Sequence[bytes],
                        last_commit: abci_pb2.CommitInfo) -> BlockOrder | ProposalRejected:
    """`check_proposal`'s block order, or its rejection as a value (it may run in a worker
    thread, whose exceptions are better kept for real bugs)."""
    try:
        return check_proposal(ctx, txs, last_commit)[1]
    except ProposalRejected as exc:
        return exc


class OptioApp:
    """The application state machine of one node, over one `Store`."""

    def __init__(self, store: Store, *, check_invariants: bool = False,
                 feeder: Feeder | None = None, precompute_vdf: bool = False,
                 vdf_deadline_s: float = DEFAULT_VDF_DEADLINE_S,
                 vdf_head_start: bool = False, offload: bool = False) -> None:
        """`offload`: work that runs without the GIL goes to worker threads and the method
        returns an awaitable, so that an asyncio ABCI server serves the other connections
        meanwhile: the VDF of PrepareProposal and its verification in ProcessProposal, and
        the signatures of a CheckTx batch (`check_tx_batch`). Off, every method answers
        synchronously, as in-process drivers expect.

        `vdf_head_start`: when FinalizeBlock leaves this node the likely proposer of the next
        height (chain/proposers.py), start the VDF at once over the txs the mempool keeps,
        instead of in PrepareProposal after Commit, CometBFT's recheck and bookkeeping
        (`_start_head_start`)."""
        self._store = store
        self._offload = offload
        # (height, txs) of this node's last PrepareProposal answer: ProcessProposal of that
        # exact block on this node need not verify what it computed itself.
        self._own_proposal: tuple[int, tuple[bytes, ...]] | None = None
        self._vdf_deadline_s = vdf_deadline_s
        self._feeder = feeder
        self._precompute_vdf = precompute_vdf
        self._empty_job: ProveJob | None = None
        self._vdf_head_start = vdf_head_start
        self._head_start: _HeadStart | None = None
        self._proposers = ProposerForecast()
        # This validator's address, learnt from the first PrepareProposal it gets, and the
        # bytes its last proposal could give to user txs (the head start stays within them).
        self._address: bytes | None = None
        self._user_tx_bytes = 0
        self._oracle_params = OracleParams()
        self._genesis_app_hash = b""
        self._check_invariants = check_invariants
        # Whether the committed state is known to conserve supply (checked once, in full,
        # by the first block's invariant check; every later commit passed the check).
        self._supply_checked = False
        self._pending: WorkingState | None = None
        self._pending_height = 0
        self._mempool = MempoolMirror(store, self._check_in)
        # Set while a block executes in steps (FinalizeBlock or optimistically, and until
        # an optimistic execution is decided): CheckTx then waits with its stateful checks,
        # so that they run once, against the block's outcome (chain/mempool.py). `_holds`
        # counts who holds them (`_hold_checks`).
        self._executing: asyncio.Event | None = None
        self._holds = 0
        self._optimistic: _Optimistic | None = None
        self._decoded: OrderedDict[bytes, SignedTx] = OrderedDict()
        # Signature verdicts of the CheckTx group being checked, verified in a batch by
        # `_check_after_verifying`: `_decode` uses them instead of verifying again.
        self._verdicts: dict[bytes, bool] = {}
        self._verifier: ThreadPoolExecutor | None = None
        self._chain_id: str | None = None
        self._params: Params | None = None
        if store.last_height > 0:
            self._load_chain_constants(self._mempool.state)

    # --- connection: info / query -----------------------------------------------------

    def info(self, req: abci_pb2.RequestInfo) -> abci_pb2.ResponseInfo:
        if req.abci_version and req.abci_version != ABCI_VERSION:
            raise RuntimeError(
                f"CometBFT speaks ABCI {req.abci_version}; this node implements ABCI "
                f"{ABCI_VERSION} (install CometBFT v0.38.x with localnet/setup.sh)"
            )
        return abci_pb2.ResponseInfo(
            data="optio",
            version=SOFTWARE_VERSION,
            app_version=APP_VERSION,
            last_block_height=self._store.last_height,
            # Height 0 means "call InitChain": there is no app hash yet.
            last_block_app_hash=self._store.last_app_hash if self._store.last_height else b"",
        )

    def query(self, req: abci_pb2.RequestQuery) -> abci_pb2.ResponseQuery:
        height = self._store.last_height
        try:
            if req.height not in (0, height):
                raise QueryHeightUnavailable(req.height, height)
            return answer_query(self._store, self._mempool.state, req.path, req.data, prove=req.prove)
        except OptioError as exc:
            return abci_pb2.ResponseQuery(
                code=exc.code, log=exc.message, codespace=exc.codespace, height=height
            )

    # --- mempool ----------------------------------------------------------------------

    def check_tx(self, req: abci_pb2.RequestCheckTx) -> abci_pb2.ResponseCheckTx:
        if req.type == abci_pb2.RECHECK:
            return self._mempool.recheck(req.tx)
        return self._mempool.check(req.tx)

    def check_tx_batch(
        self, reqs: Sequence[abci_pb2.RequestCheckTx]
    ) -> list[abci_pb2.ResponseCheckTx] | Awaitable[list[abci_pb2.ResponseCheckTx]]:
        """CheckTx of requests that arrived together (abci/server.py), answered in order.

        With `offload`, the signatures of the txs not decoded before are verified by worker
        threads, a batch per group, in native code that holds no GIL (chain/ed25519_batch.py),
        while this thread checks the groups already verified, in order, exactly as `check_tx`
        would (`_decode` takes the verdicts from `_verdicts`), and serves the other connections
        (FinalizeBlock, say). While a block executes in steps (FinalizeBlock, or optimistically),
        the checks wait for its end."""
        if self._offload and (self._executing is not None or sum(
                r.tx not in self._decoded for r in reqs) >= _MIN_SIGNATURE_BATCH):
            return self._check_after_verifying(reqs)
        return [self.check_tx(r) for r in reqs]

    async def _check_after_verifying(
        self, reqs: Sequence[abci_pb2.RequestCheckTx]
    ) -> list[abci_pb2.ResponseCheckTx]:
        loop = asyncio.get_running_loop()
        if self._verifier is None:
            self._verifier = ThreadPoolExecutor(_VERIFY_THREADS, "optio-verify")
        groups = []
        for start in range(0, len(reqs), _VERIFY_GROUP):
            group = reqs[start:start + _VERIFY_GROUP]
            claims = {r.tx: claim for r in group
                      if r.tx not in self._decoded and (claim := signature_claim(r.tx))}
            # A group with nothing to verify (every tx decoded before) has no batch.
            batch = SignatureBatch(list(claims.values())) if claims else None
            verified = loop.run_in_executor(self._verifier, batch.verify) if batch else None
            groups.append((group, claims, batch, verified))
        answers = []
        for group, claims, batch, verified in groups:
            if verified is not None:
                await verified
            while self._executing is not None:
                await self._executing.wait()
            if batch is not None:
                self._verdicts.update(zip(claims, batch.verdicts()))
            answers += [self.check_tx(r) for r in group]
            for raw in claims:  # those no decode took (refused before it, say)
                self._verdicts.pop(raw, None)
        return answers

    def _check_in(self, ws: WorkingState, height: int, raw: bytes) -> abci_pb2.ResponseCheckTx:
        """CheckTx of `raw` on the check state `ws` for block `height` (chain/mempool.py)."""
        try:
            if is_injected_tx(raw):
                raise InjectedTxNotAllowed()
            tx = self._decode(raw)
            with ws.transaction():
                process_tx(ws, tx, height=height, params=self._params, events=False)
        except OptioError as exc:
            return abci_pb2.ResponseCheckTx(code=exc.code, log=exc.message, codespace=exc.codespace)
        return _CHECK_OK

    # --- consensus ----------------------------------------------------------------------

    def init_chain(self, req: abci_pb2.RequestInitChain) -> abci_pb2.ResponseInitChain:
        genesis = AppGenesis.from_json_bytes(req.app_state_bytes)
        ws = self._store.working()
        initial_height = max(req.initial_height, 1)
        offered = tuple(_validator_of(update) for update in req.validators)
        process_genesis(ws, genesis, chain_id=req.chain_id)
        set_vote_extensions_enable_height(
            ws, req.consensus_params.abci.vote_extensions_enable_height)
        validators = process_genesis_validators(ws, genesis, offered, initial_height)
        # The mempool may see txs before block 1 is committed: check them against genesis too.
        check = self._store.working()
        process_genesis(check, genesis, chain_id=req.chain_id)
        process_genesis_validators(check, genesis, offered, initial_height)
        self._mempool.reset(check, self._store.last_height + 1)
        self._load_chain_constants(ws)
        self._pending = ws
        self._pending_height = req.initial_height - 1 if req.initial_height > 0 else 0
        app_hash = ws.app_hash()
        self._genesis_app_hash = app_hash
        log.info("genesis loaded: chain %s, %d accounts, app hash %s",
                 req.chain_id, len(genesis.accounts), app_hash.hex().upper())
        return abci_pb2.ResponseInitChain(
            app_hash=app_hash, validators=[_validator_update(v) for v in validators])

    def prepare_proposal(
        self, req: abci_pb2.RequestPrepareProposal
    ) -> abci_pb2.ResponsePrepareProposal | Awaitable[abci_pb2.ResponsePrepareProposal]:
        """`[oracle tx] [ordering tx] [user txs in VDF order]` (chain/oracle/proposal.py): the
        oracle tx carries the extended commit of height − 1 when vote extensions were on; the
        user txs are, in mempool order, those that pass the shared validity function, all
        within `max_tx_bytes` with the injected txs. Txs are not executed here: the mempool
        already checked them against state, and one that has since become invalid fails in
        the block without effect."""
        ctx = self._proposal_context(req.height, self._store.working())
        oracle, size = injected_budget(ctx, req.local_last_commit)
        self._address = req.proposer_address
        self._user_tx_bytes = req.max_tx_bytes - 2 * size  # room for a larger oracle tx
        chosen: list[bytes] = []
        for raw in req.txs:
            taken = block_bytes(len(raw))
            if size + taken > req.max_tx_bytes or is_injected_tx(raw):
                continue
            try:
                self._decode(raw)
            except OptioError:
                continue
            chosen.append(raw)
            size += taken
        head = self._take_head_start(req.height, chosen)
        if head is not None:
            chosen = list(head.txs)
        build = partial(build_proposal, ctx, oracle, chosen, deadline_s=self._vdf_deadline_s,
                        empty_job=self._empty_job, started=head and head.job)
        if self._offload:
            return self._in_thread(build, partial(self._proposed, req.height))
        return self._proposed(req.height, build())

    def _take_head_start(self, height: int, chosen: list[bytes]) -> _HeadStart | None:
        """The head start for `height` if every tx it covers is among `chosen` and they make
        at least `_HEAD_START_MIN_SHARE` of its bytes (then the proposal carries exactly
        those; later arrivals wait for the next block), else None and the head start is
        dropped."""
        head, self._head_start = self._head_start, None
        if head is None:
            return None
        if (head.height == height and set(head.txs) <= set(chosen)
                and _HEAD_START_MIN_SHARE * sum(map(len, chosen)) <= sum(map(len, head.txs))):
            return head
        head.job.cancel()
        return None

    def _start_head_start(self, height: int, prev_app_hash: bytes) -> None:
        """When block `height` − 1 (app hash `prev_app_hash`) is decided: if this node is the
        likely proposer of `height`, start its VDF over the txs the mempool will keep through
        CometBFT's recheck (known in advance: chain/mempool.py), in mempool order, within the
        room of its last proposal. The VDF then runs while CometBFT saves and commits the
        block, rechecks, indexes and starts the round, instead of after.
        A proposer may choose its txs; the order stays the VDF's (DESIGN §2)."""
        if (not self._vdf_head_start or self._address is None or self._chain_id is None
                or self._params is None or self._proposers.next_proposer() != self._address):
            return
        txs: list[bytes] = []
        room = self._user_tx_bytes
        for raw in self._mempool.expected_survivors():
            taken = block_bytes(len(raw))
            if taken > room:
                break
            txs.append(raw)
            room -= taken
        if not txs:
            return
        seed = compute_block_seed(self._chain_id, height, prev_app_hash, txs)
        job = ProveJob(seed, self._params.vdf_iterations, self._params.vdf_discriminant_bits)
        self._head_start = _HeadStart(height, tuple(txs), job)

    @staticmethod
    async def _in_thread(work: Callable[[], _T], then: Callable[[_T], _R]) -> _R:
        """`then(work())` with `work` in a worker thread (the VDF work of `offload`)."""
        return then(await asyncio.to_thread(work))

    def _proposed(self, height: int, txs: list[bytes]) -> abci_pb2.ResponsePrepareProposal:
        self._own_proposal = (height, tuple(txs))
        return abci_pb2.ResponsePrepareProposal(txs=txs)

    def process_proposal(
        self, req: abci_pb2.RequestProcessProposal
    ) -> abci_pb2.ResponseProcessProposal | Awaitable[abci_pb2.ResponseProcessProposal]:
        """Injected txs (oracle votes and signatures, VDF proof and order: every check is
        listed in chain/oracle/proposal.py), then the shared validity function on each user
        tx. Reads only the block and the last committed state. A block this node proposed
        itself from the same state is accepted without checking it again. An accepted block
        starts executing at once (`_execute_optimistically`)."""
        if self._own_proposal == (req.height, tuple(req.txs)):
            self._execute_optimistically(req)
            return abci_pb2.ResponseProcessProposal(status=_ACCEPT)
        ctx = self._proposal_context(req.height, self._store.working())
        check = partial(_check_or_rejection, ctx, req.txs, req.proposed_last_commit)
        if self._offload:
            return self._in_thread(check, partial(self._proposal_verdict, req))
        return self._proposal_verdict(req, check())

    def _proposal_verdict(
        self, req: abci_pb2.RequestProcessProposal, checked: BlockOrder | ProposalRejected
    ) -> abci_pb2.ResponseProcessProposal:
        height = req.height
        if isinstance(checked, ProposalRejected):
            log.warning("rejecting proposal at height %d: %s", height, checked)
            return abci_pb2.ResponseProcessProposal(status=_REJECT)
        for index, raw in enumerate(checked.user_txs):
            try:
                self._decode(raw)
            except OptioError as exc:
                log.warning("rejecting proposal at height %d: tx %d invalid: %s",
                            height, index, exc.message)
                return abci_pb2.ResponseProcessProposal(status=_REJECT)
        self._execute_optimistically(req)
        return abci_pb2.ResponseProcessProposal(status=_ACCEPT)

    def extend_vote(self, req: abci_pb2.RequestExtendVote) -> abci_pb2.ResponseExtendVote:
        """This validator's fresh prices from its feeder (empty = abstain on everything)."""
        if self._feeder is None:
            return abci_pb2.ResponseExtendVote()
        params = self._oracle_params
        observation = self._feeder.observe(params.underlyings)
        try:
            extension = encode_extension(observation, n_underlyings=len(params.underlyings),
                                         max_bytes=params.max_extension_bytes)
        except ExtensionError as exc:
            log.warning("abstaining at height %d: %s", req.height, exc)
            extension = b""
        return abci_pb2.ResponseExtendVote(vote_extension=extension)

    def verify_vote_extension(
        self, req: abci_pb2.RequestVerifyVoteExtension
    ) -> abci_pb2.ResponseVerifyVoteExtension:
        """Deterministic decoding, bounds and size only (chain/oracle/extension.py)."""
        params = self._oracle_params
        try:
            decode_extension(req.vote_extension, n_underlyings=len(params.underlyings),
                             max_bytes=params.max_extension_bytes)
        except ExtensionError as exc:
            log.warning("rejecting vote extension of %s at height %d: %s",
                        req.validator_address.hex().upper(), req.height, exc)
            return abci_pb2.ResponseVerifyVoteExtension(
                status=abci_pb2.ResponseVerifyVoteExtension.REJECT)
        return abci_pb2.ResponseVerifyVoteExtension(
            status=abci_pb2.ResponseVerifyVoteExtension.ACCEPT)

    def finalize_block(
        self, req: abci_pb2.RequestFinalizeBlock
    ) -> abci_pb2.ResponseFinalizeBlock | Awaitable[abci_pb2.ResponseFinalizeBlock]:
        """Begin-block work, the txs in order, end-block work, then the app hash.

        A block this node already executes optimistically (since its ProcessProposal:
        `_execute_optimistically`) is not executed again: the answer is that execution's,
        awaited if it is still running. Otherwise, with `offload`, a long block's txs run in
        steps of `_FINALIZE_STEP` with the event loop free in between, so that the signatures
        of the txs arriving meanwhile are verified while this block executes. Either way
        their stateful checks wait for the end of the block and run against its outcome (the
        next check state, chain/mempool.py). Nothing else can touch the block's state in
        between: CometBFT sends the next consensus request only after this answer."""
        self._mempool.end_recheck()
        self._proposers.record(req.height, req.proposer_address)
        if self._head_start is not None:  # this height's proposal is decided: not needed
            self._head_start.job.cancel()
            self._head_start = None
        optimistic = self._take_optimistic(req)
        if optimistic is not None:
            if optimistic.task.done():
                return self._decided(optimistic.ws, req, optimistic.task.result())
            return self._decided_when_executed(optimistic, req)
        ws = self._pending if self._pending is not None else self._store.working()
        if self._offload and len(req.txs) > _FINALIZE_STEP:
            return self._finalize_in_steps(ws, req)
        return self._decided(ws, req, self._execute(ws, req))

    async def _finalize_in_steps(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock
    ) -> abci_pb2.ResponseFinalizeBlock:
        # _decided runs before any waiting check does: no turn of the loop in between.
        return self._decided(ws, req, await self._execute_in_steps(ws, req))

    async def _decided_when_executed(
        self, optimistic: _Optimistic, req: abci_pb2.RequestFinalizeBlock
    ) -> abci_pb2.ResponseFinalizeBlock:
        self._hold_checks()  # past the end of the execution, until the block is decided
        try:
            response = await optimistic.task
            return self._decided(optimistic.ws, req, response)
        finally:
            self._release_checks()

    def _execute(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock
    ) -> abci_pb2.ResponseFinalizeBlock:
        """Execute the block `req` on `ws` (the state after height − 1): its answer."""
        response = self._begin_execution(ws, req)
        for raw in req.txs:
            self._deliver(ws, raw, req.height, response.tx_results.add())
        return self._end_execution(ws, req, response)

    async def _execute_in_steps(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock
    ) -> abci_pb2.ResponseFinalizeBlock:
        """`_execute` in steps of `_FINALIZE_STEP` txs, with a turn of the event loop between
        two; CheckTx's stateful checks wait meanwhile."""
        self._hold_checks()
        try:
            response = self._begin_execution(ws, req)
            for start in range(0, len(req.txs), _FINALIZE_STEP):
                if start:
                    await asyncio.sleep(0)
                for raw in req.txs[start:start + _FINALIZE_STEP]:
                    self._deliver(ws, raw, req.height, response.tx_results.add())
            return self._end_execution(ws, req, response)
        finally:
            self._release_checks()

    def _begin_execution(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock
    ) -> abci_pb2.ResponseFinalizeBlock:
        """The block header, then begin-block work; the response its txs' results go into."""
        time_ns = req.time.seconds * NANOS_PER_SECOND + req.time.nanos
        process_block_header(ws, BlockHeader(height=req.height, time_ns=time_ns))
        events = self._begin_block(ws, req)
        events += process_staking_begin_block(ws, req)  # rewards, evidence, liveness
        # Results are written into the response in place: building each ExecTxResult apart
        # and copying it in costs twice as much.
        response = abci_pb2.ResponseFinalizeBlock()
        _add_events(response.events, events)
        return response

    def _end_execution(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock,
        response: abci_pb2.ResponseFinalizeBlock,
    ) -> abci_pb2.ResponseFinalizeBlock:
        end_events, updates = self._end_block(ws, req)
        _add_events(response.events, end_events)
        if self._check_invariants:
            self._check_supply(ws, req.height)
            check_staking_invariants(ws, req.height)
        response.app_hash = ws.app_hash()
        response.validator_updates.extend(_validator_update(v) for v in updates)
        return response

    def _check_supply(self, ws: WorkingState, height: int) -> None:
        """Supply conservation after block `height` executed on `ws`, or RuntimeError."""
        if not self._supply_checked:
            if not is_supply_conserved(self._store.working()):
                raise RuntimeError(f"invariant broken before height {height}: the committed "
                                   "state does not conserve supply")
            self._supply_checked = True
        if not is_supply_change_conserved(ws):
            raise RuntimeError(f"invariant broken at height {height}: supply not conserved")

    def _decided(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock,
        response: abci_pb2.ResponseFinalizeBlock,
    ) -> abci_pb2.ResponseFinalizeBlock:
        """Block `req`, executed on `ws`, is decided: Commit persists `ws`, CheckTx checks
        against its outcome from now on, and the VDF work for the next height can start (its
        seed needs only this block's app hash)."""
        self._pending = ws
        self._pending_height = req.height
        self._mempool.after_block(ws, req.height, req.txs)
        self._start_head_start(req.height + 1, response.app_hash)
        self._start_empty_vdf(req.height + 1, response.app_hash)
        return response

    # --- optimistic execution -----------------------------------------------------------

    def _execute_optimistically(self, req: abci_pb2.RequestProcessProposal) -> None:
        """With `offload`, start executing a block this node accepts, before it is decided
        (the Cosmos SDK's optimistic execution): in steps on the event loop, on a working
        state of its own, while prevotes and precommits travel. FinalizeBlock of the same
        block then only waits for what is left; FinalizeBlock of another block (decided in a
        later round) discards it. Of it only the mempool's check state moves ahead before the
        decision (`_execute_ahead`), and back if another block is decided; the state that
        Commit persists changes only in `_decided`."""
        self._discard_optimistic()
        # The first block executes on InitChain's state, kept in `_pending` until its
        # commit: that one is not executed ahead.
        if not self._offload or self._pending is not None:
            return
        block = _finalize_request(req)
        ws = self._store.working()
        task = asyncio.get_running_loop().create_task(self._execute_ahead(ws, block))
        self._optimistic = _Optimistic(block, ws, task)

    async def _execute_ahead(
        self, ws: WorkingState, block: abci_pb2.RequestFinalizeBlock
    ) -> abci_pb2.ResponseFinalizeBlock:
        """The optimistic execution, then the mempool's replay onto its outcome
        (`MempoolMirror.speculate`) before any waiting check runs: the checks go on against
        the block's outcome, and FinalizeBlock of this block finds the next check state ready."""
        response = await self._execute_in_steps(ws, block)
        self._mempool.speculate(ws, block.height, block.txs)
        return response

    def _take_optimistic(self, req: abci_pb2.RequestFinalizeBlock) -> _Optimistic | None:
        """The optimistic execution of exactly the block `req`, or None (any other is dropped)."""
        optimistic = self._optimistic
        if optimistic is not None and optimistic.block == req:
            self._optimistic = None
            return optimistic
        self._discard_optimistic()
        return None

    def _discard_optimistic(self) -> None:
        optimistic, self._optimistic = self._optimistic, None
        if optimistic is None:
            return
        self._mempool.drop_speculation()
        task = optimistic.task
        if task.done():
            task.result()  # an execution that raised is a bug, whichever block is decided
        else:
            task.cancel()  # it stops at its next step; its working state is dropped
        log.debug("optimistic execution of block %d dropped", optimistic.block.height)

    def _hold_checks(self) -> None:
        """CheckTx's stateful checks wait from now until the matching `_release_checks`."""
        self._holds += 1
        if self._executing is None:
            self._executing = asyncio.Event()

    def _release_checks(self) -> None:
        self._holds -= 1
        if self._holds == 0 and self._executing is not None:
            self._executing.set()
            self._executing = None

    def _begin_block(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock
    ) -> list[Event]:
        """Work before the block's txs (oracle prices, evidence, liveness)."""
        return self._apply_injected_txs(ws, req)

    def _end_block(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock
    ) -> tuple[list[Event], tuple[Validator, ...]]:
        """Work after the block's txs: unbonding maturity and validator-set changes, which
        CometBFT applies from height + 2 (state/staking.py)."""
        return process_staking_end_block(ws, req.height)

    def commit(self, req: abci_pb2.RequestCommit) -> abci_pb2.ResponseCommit:
        if self._pending is None:
            raise RuntimeError("Commit without a finalized block")
        self._store.commit(self._pending, self._pending_height)
        self._pending = None
        self._mempool.after_commit()
        return abci_pb2.ResponseCommit(retain_height=0)

    # --- helpers ------------------------------------------------------------------------

    def _load_chain_constants(self, ws: WorkingState) -> None:
        self._chain_id = get_chain_id(ws)
        self._params = get_params(ws)
        self._oracle_params = get_oracle_params(ws)

    def _decode(self, raw: bytes) -> SignedTx:
        """`decode_tx` under the chain's params, cached; with the batch verdict of the
        signature when there is one (`_verdicts`)."""
        cached = self._decoded.get(raw)
        if cached is not None:
            return cached
        if self._chain_id is None or self._params is None:
            raise RuntimeError("transaction received before genesis was loaded")
        params = self._params
        tx = decode_tx(
            raw,
            self._chain_id,
            params.max_tx_bytes,
            max_memo_bytes=params.max_memo_bytes,
            max_msgs_per_tx=params.max_msgs_per_tx,
            signature_valid=self._verdicts.pop(raw, None),
        )
        self._decoded[raw] = tx
        if len(self._decoded) > _DECODE_CACHE_SIZE:
            self._decoded.popitem(last=False)
        return tx

    def _start_empty_vdf(self, height: int, prev_app_hash: bytes) -> None:
        """With `precompute_vdf`, evaluate the empty-set VDF of `height` in the background: the
        proposer's fallback when the evaluation over its selected txs misses the deadline."""
        if self._empty_job is not None:
            self._empty_job.cancel()
            self._empty_job = None
        if not self._precompute_vdf or self._chain_id is None or self._params is None:
            return
        seed = compute_seed(self._chain_id, height, prev_app_hash, [])
        self._empty_job = ProveJob(seed, self._params.vdf_iterations,
                                   self._params.vdf_discriminant_bits)

    def _proposal_context(self, height: int, ws: KVState) -> ProposalContext:
        """What a proposal at `height` is built and checked against; `ws` is the state after
        height − 1 (the committed state, or the block's own before its txs)."""
        if self._chain_id is None or self._params is None:
            raise RuntimeError("proposal before genesis was loaded")
        required = is_oracle_tx_required(ws, height)
        return ProposalContext(
            chain_id=self._chain_id, height=height,
            prev_app_hash=(self._store.last_app_hash if self._store.last_height
                           else self._genesis_app_hash),
            vdf_iterations=self._params.vdf_iterations,
            vdf_discriminant_bits=self._params.vdf_discriminant_bits,
            oracle_params=self._oracle_params, oracle_required=required,
            validators=get_validator_set(ws, height - 1) if required else ())

    def _apply_injected_txs(
        self, ws: WorkingState, req: abci_pb2.RequestFinalizeBlock
    ) -> list[Event]:
        """Aggregate the oracle tx's observations into prices (state/oracle.py) and record
        the ordering tx's VDF output as the block's beacon (state/beacon.py). The block
        passed ProcessProposal on > 2/3 of the power, so both are well formed."""
        ctx = self._proposal_context(req.height, ws)
        events: list[Event] = []
        if ctx.oracle_required:
            oracle = decode_oracle_tx(req.txs[0]) if req.txs else None
            if oracle is None:
                raise RuntimeError(f"finalized block {req.height} has no oracle tx")
            checked = check_oracle_tx(oracle, chain_id=ctx.chain_id, height=req.height - 1,
                                      validators=ctx.validators, params=ctx.oracle_params)
            time_ns = req.time.seconds * NANOS_PER_SECOND + req.time.nanos
            events += process_oracle_aggregate(ws, checked.votes, checked.total_power,
                                               height=req.height, time_ns=time_ns)
        beacon = finalized_beacon(ctx, req.txs)
        if beacon is not None:
            process_beacon(ws, beacon)
        return events

    def _deliver(self, ws: WorkingState, raw: bytes, height: int,
                 result: abci_pb2.ExecTxResult) -> None:
        """Execute one tx of the block; its outcome goes into `result` (code 0 as it comes)."""
        if is_injected_tx(raw):
            return  # applied by _begin_block
        try:
            tx = self._decode(raw)
            with ws.transaction():
                receipt = process_tx(ws, tx, height=height, params=self._params)
        except OptioError as exc:
            result.code, result.log, result.codespace = exc.code, exc.message, exc.codespace
            return
        _add_events(result.events, receipt.events)


def _finalize_request(req: abci_pb2.RequestProcessProposal) -> abci_pb2.RequestFinalizeBlock:
    """The FinalizeBlock request CometBFT sends if the proposed block `req` is decided: the
    same fields (v0.38 builds the decided last commit from the block exactly as it built the
    proposed one); FinalizeBlock compares the whole request before using the execution."""
    return abci_pb2.RequestFinalizeBlock(
        txs=req.txs, decided_last_commit=req.proposed_last_commit, misbehavior=req.misbehavior,
        hash=req.hash, height=req.height, time=req.time,
        next_validators_hash=req.next_validators_hash, proposer_address=req.proposer_address)


def _validator_of(update: abci_pb2.ValidatorUpdate) -> Validator:
    """An InitChain validator; CometBFT genesis allows only ed25519 keys here (consensus params)."""
    if update.pub_key.WhichOneof("sum") != "ed25519":
        raise RuntimeError("InitChain offered a non-ed25519 validator key; Optio supports ed25519 only")
    return Validator.of(update.pub_key.ed25519, update.power)


def _validator_update(validator: Validator) -> abci_pb2.ValidatorUpdate:
    return abci_pb2.ValidatorUpdate(
        pub_key=crypto_pb2.PublicKey(ed25519=validator.pub_key), power=validator.power)


def _add_events(target: RepeatedCompositeFieldContainer[abci_pb2.Event],
                events: Iterable[Event]) -> None:
    """Append `events` to a response's repeated `events` field (in place: building them
    apart and copying them in costs twice as much), the attributes of `INDEXED_KEYS`
    marked for CometBFT's index."""
    for event in events:
        added = target.add()
        added.type = event.type
        for key, value in event.attributes:
            added.attributes.add(key=key, value=value, index=key in INDEXED_KEYS)
