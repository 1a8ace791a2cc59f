"""VDF fair ordering (DESIGN §2 steps 3–4): the block seed, the chiavdf evaluation and its
proof, the order of user txs, the ordering-tx envelope, and the check ProcessProposal runs.

No ABCI here and no state: `chain/app.py` calls these functions with what it knows (chain id,
height, the previous app hash, the `vdf_*` params) and `state/beacon.py` stores the output.
The rules, their reasons and the measured cost are in `docs/ordering.md`.

Block layout: ``[injected txs: oracle tx, ordering tx] [user txs in VDF order]``.

- seed = SHA-256(SEED_DOMAIN ‖ u8 len ‖ chain id ‖ u64 height ‖ u8 len ‖ prev app hash ‖
  `tx_set_root` of the user-tx hashes). The root sorts the hashes first, so the seed (and so
  the order) depends on the *set* of user txs, never on the order the proposer lists them in.
- (y, π) = class-group Wesolowski VDF over the discriminant `create_discriminant(seed, bits)`,
  from the generator form, with T = `vdf_iterations` squarings.
- user txs sorted by SHA-256(y ‖ SHA-256(tx)), ties (identical txs) by SHA-256(tx).

Every block carries exactly one ordering tx, also a block with no user txs: its seed uses the
root of the empty set, so it depends only on (chain id, height, prev app hash) and a node can
evaluate it in the background as soon as the previous block's app hash is known (`ProveJob`).
That precomputed evaluation is the proposer's fallback when the full one misses its deadline
(`prepare_block_order`), so a slow VDF shrinks a block to no user txs instead of stalling it.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import chiavdf

from chain.canonical import NotCanonical, NotProtobuf, merkle_root, parse_canonical
from chain.proto import injected_pb2
from state.params import param_problem

# --- constants --------------------------------------------------------------------------

SEED_DOMAIN: Final[bytes] = b"optio/ordering/seed/v1\x00"
"""Domain tag of the block seed, so it can never equal a hash made for another purpose."""

INJECTED_TX_MARKER: Final[int] = 0x00
"""First byte of every injected tx. No protobuf encoding starts with 0x00 (a field tag is
``number << 3 | wire type`` with number >= 1), so no user `optio.tx.v1.Tx` ever does."""

INJECTED_TX_MAGIC: Final[bytes] = b"\x00optio-inj\x01"
"""Header of an injected tx: the marker, a readable name, and the envelope version (1)."""

FORM_BYTES: Final[int] = 100
"""Size of a class-group element in chiavdf's compressed serialization (BQFC_FORM_SIZE)."""

GENERATOR_FORM: Final[bytes] = b"\x08" + bytes(FORM_BYTES - 1)
"""The VDF input x: the form (a=2, b=1) of every discriminant, serialized by its flag byte."""

N_WESOLOWSKI_RECURSION: Final[int] = 0
"""Plain Wesolowski: the proof blob is y ‖ π and nothing else."""


# --- errors -------------------------------------------------------------------------------


class MalformedInjectedTx(ValueError):
    """Bytes in the injected-tx namespace that are not one canonical `InjectedTx`."""


class InvalidBlockOrder(Exception):
    """A proposal whose ordering tx or tx order is wrong; ProcessProposal answers REJECT.

    `kind` is a stable label (one of `REJECT_KINDS`) for tests and metrics, `reason` a
    sentence for the log."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


REJECT_KINDS: Final[tuple[str, ...]] = (
    "malformed_injected_tx",   # 0x00-prefixed tx that does not decode canonically
    "misplaced_injected_tx",   # injected tx after a user tx, or ordering tx not last injected
    "missing_ordering_tx",
    "duplicate_ordering_tx",
    "wrong_iterations",        # ordering tx T differs from the vdf_iterations param
    "invalid_proof",           # VDF proof does not verify for the recomputed seed
    "wrong_order",             # user txs not sorted by the VDF output
)


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VdfOutput:
    """A VDF evaluation: output y and Wesolowski proof π, both 100-byte compressed forms."""

    y: bytes
    proof: bytes


@dataclass(frozen=True, slots=True)
class OrderingTx:
    """The decoded ordering tx."""

    y: bytes
    proof: bytes
    iterations: int

    @property
    def output(self) -> VdfOutput:
        return VdfOutput(self.y, self.proof)


@dataclass(frozen=True, slots=True)
class BlockOrder:
    """The ordering part of a block: what PrepareProposal builds and ProcessProposal checks,
    and what FinalizeBlock stores as the beacon (seed, y, iterations)."""

    seed: bytes
    output: VdfOutput
    iterations: int
    user_txs: tuple[bytes, ...]
    """User txs in VDF order."""

    @property
    def ordering_tx(self) -> bytes:
        return encode_ordering_tx(self.output, self.iterations)

    def txs(self) -> list[bytes]:
        """Ordering tx then the ordered user txs; the proposer puts the oracle tx in front."""
        return [self.ordering_tx, *self.user_txs]


# --- seed ---------------------------------------------------------------------------------


def hash_tx(raw: bytes) -> bytes:
    """SHA-256 of the raw tx bytes: the tx hash CometBFT shows (as hex)."""
    return hashlib.sha256(raw).digest()


def tx_set_root(tx_hashes: Sequence[bytes]) -> bytes:
    """Merkle root of the multiset of tx hashes, independent of their order.

    The hashes are sorted byte-wise, then hashed as an RFC 6962 tree (CometBFT's
    `merkle.HashFromByteSlices`): empty → SHA-256(""), leaf → SHA-256(0x00 ‖ h),
    node → SHA-256(0x01 ‖ left ‖ right), where the left subtree holds the largest power of
    two strictly below the number of items. A duplicated hash stays a duplicated leaf."""
    items = sorted(tx_hashes)
    for h in items:
        if len(h) != 32:
            raise ValueError(f"tx hash of {len(h)} bytes, expected 32")
    return merkle_root(items)


def compute_seed(chain_id: str, height: int, prev_app_hash: bytes,
                 tx_hashes: Sequence[bytes]) -> bytes:
    """The 32-byte VDF challenge of block `height` carrying the user txs with `tx_hashes`.

    `prev_app_hash` is the app hash in the header of block `height`: the one FinalizeBlock
    returned for height − 1 (InitChain's for the initial height)."""
    chain = chain_id.encode()
    if len(chain) > 255 or len(prev_app_hash) > 255:
        raise ValueError("chain id and app hash must be at most 255 bytes")
    if not 0 <= height < 1 << 64:
        raise ValueError(f"height {height} does not fit 64 bits")
    return hashlib.sha256(
        SEED_DOMAIN
        + bytes((len(chain),)) + chain
        + height.to_bytes(8, "big")
        + bytes((len(prev_app_hash),)) + prev_app_hash
        + tx_set_root(tx_hashes)
    ).digest()


def compute_block_seed(chain_id: str, height: int, prev_app_hash: bytes,
                       user_txs: Sequence[bytes]) -> bytes:
    """`compute_seed` over the hashes of raw user txs."""
    return _block_seed(chain_id, height, prev_app_hash, tuple(user_txs))


# A node needs the seed of the same tx list up to four times per block (the proposer's head
# start, PrepareProposal, ProcessProposal, FinalizeBlock), at ~2 µs per tx; a hit costs the
# tuple's hash and comparison, a tenth of that. lru_cache is thread-safe (worker threads
# check proposals).
@lru_cache(maxsize=4)
def _block_seed(chain_id: str, height: int, prev_app_hash: bytes,
                user_txs: tuple[bytes, ...]) -> bytes:
    return compute_seed(chain_id, height, prev_app_hash, [hash_tx(t) for t in user_txs])


# --- VDF ----------------------------------------------------------------------------------


def vdf_params_problem(iterations: int, discriminant_bits: int) -> str | None:
    """Why (T, discriminant bits) cannot be used, or None: the genesis bounds of
    `vdf_iterations` and `vdf_discriminant_bits` (state/params.py)."""
    for name, value in (("vdf_iterations", iterations),
                        ("vdf_discriminant_bits", discriminant_bits)):
        problem = param_problem(name, value)
        if problem is not None:
            return f"{name} {problem}"
    return None


def _require_params(iterations: int, discriminant_bits: int) -> None:
    problem = vdf_params_problem(iterations, discriminant_bits)
    if problem is not None:
        raise ValueError(problem)


@lru_cache(maxsize=16)
def _discriminant(seed: bytes, discriminant_bits: int) -> str:
    # ~2–50 ms at 1024 bits (a prime search); the proposer and ProcessProposal of the same
    # node both need the one of the current seed.
    return str(chiavdf.create_discriminant(seed, discriminant_bits))


class ProveCancelled(Exception):
    """chiavdf stopped early because its keep-alive file disappeared."""


def prove(seed: bytes, iterations: int, discriminant_bits: int,
          *, keep_alive_path: str = "") -> VdfOutput:
    """Evaluate the VDF: T sequential squarings of the generator in the class group of the
    discriminant derived from `seed`, plus the Wesolowski proof. Blocks for the whole
    evaluation (releasing the GIL); cost grows linearly with `iterations`. With
    `keep_alive_path`, chiavdf stops as soon as that file no longer exists and this raises
    `ProveCancelled`."""
    _require_params(iterations, discriminant_bits)
    blob = chiavdf.prove(seed, GENERATOR_FORM, discriminant_bits, iterations, keep_alive_path)
    if keep_alive_path and not blob:
        raise ProveCancelled
    if len(blob) != 2 * FORM_BYTES:
        raise RuntimeError(f"chiavdf.prove returned {len(blob)} bytes, expected {2 * FORM_BYTES}")
    return VdfOutput(y=bytes(blob[:FORM_BYTES]), proof=bytes(blob[FORM_BYTES:]))


def verify(seed: bytes, iterations: int, discriminant_bits: int, y: bytes, proof: bytes) -> bool:
    """Whether (y, proof) is the VDF evaluation of `seed` with T = `iterations`.

    Never raises on bad input: wrong types or lengths, out-of-range parameters and anything
    chiavdf refuses to deserialize (it raises RuntimeError on malformed forms) are False."""
    if not (isinstance(seed, bytes) and isinstance(y, bytes) and isinstance(proof, bytes)):
        return False
    if len(y) != FORM_BYTES or len(proof) != FORM_BYTES:
        return False
    if not (isinstance(iterations, int) and isinstance(discriminant_bits, int)):
        return False
    if vdf_params_problem(iterations, discriminant_bits) is not None:
        return False
    try:
        discriminant = _discriminant(seed, discriminant_bits)
        return bool(chiavdf.verify_n_wesolowski(
            discriminant, GENERATOR_FORM, y + proof, iterations, discriminant_bits,
            N_WESOLOWSKI_RECURSION,
        ))
    except Exception:  # noqa: BLE001 — any chiavdf failure on this input means "not valid"
        return False


_live_jobs: set[ProveJob] = set()
_live_jobs_lock = threading.Lock()


class ProveJob:
    """One VDF evaluation on a background thread, with a timeout and cancellation.

    chiavdf releases the GIL while proving, so the node keeps answering ABCI requests. It
    also polls a "keep-alive" file given by path and stops when the file disappears: that
    is how `cancel` stops the squaring loop instead of leaving a thread burning a core.
    Jobs still running at interpreter exit are cancelled and joined first (`_stop_all`):
    a process exiting under a running chiavdf call aborts in C++ (`std::terminate`)."""

    def __init__(self, seed: bytes, iterations: int, discriminant_bits: int) -> None:
        _require_params(iterations, discriminant_bits)
        self.seed = seed
        self.iterations = iterations
        self.discriminant_bits = discriminant_bits
        self._output: VdfOutput | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        fd, self._alive_path = tempfile.mkstemp(prefix="optio-vdf-")
        os.close(fd)
        self._thread = threading.Thread(target=self._run, name="optio-vdf", daemon=True)
        with _live_jobs_lock:
            _live_jobs.add(self)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._output = prove(self.seed, self.iterations, self.discriminant_bits,
                                 keep_alive_path=self._alive_path)
        except ProveCancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 — re-raised to the caller of result()
            self._error = exc
        finally:
            self._remove_alive_file()
            with _live_jobs_lock:
                _live_jobs.discard(self)
            self._done.set()

    def _remove_alive_file(self) -> None:
        try:
            os.unlink(self._alive_path)
        except FileNotFoundError:
            pass

    def matches(self, seed: bytes, iterations: int, discriminant_bits: int) -> bool:
        return (self.seed, self.iterations, self.discriminant_bits) == (
            seed, iterations, discriminant_bits)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> VdfOutput | None:
        """The output; None if not finished within `timeout` seconds or cancelled."""
        self._done.wait(timeout)
        if self._error is not None:
            raise self._error
        return self._output

    def cancel(self) -> None:
        """Stop the evaluation (chiavdf notices within a few ms); `result()` is then None
        unless it had already finished."""
        self._remove_alive_file()


@atexit.register
def _stop_all() -> None:
    with _live_jobs_lock:
        jobs = list(_live_jobs)
    for job in jobs:
        job.cancel()
    for job in jobs:
        job._thread.join()


# --- order --------------------------------------------------------------------------------


def order_txs(y: bytes, txs: Sequence[bytes]) -> list[bytes]:
    """User txs sorted by SHA-256(y ‖ SHA-256(tx)), ties by SHA-256(tx)."""
    keyed = []
    for raw in txs:
        h = hash_tx(raw)
        keyed.append((hashlib.sha256(y + h).digest(), h, raw))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [raw for _, _, raw in keyed]


# --- injected-tx envelope -------------------------------------------------------------------


def is_injected_tx(raw: bytes) -> bool:
    """Whether `raw` is in the injected-tx namespace (first byte 0x00). CheckTx rejects every
    such tx; in a block each must decode (`decode_injected_tx`) or the block is rejected."""
    return len(raw) > 0 and raw[0] == INJECTED_TX_MARKER


def encode_injected_tx(message: injected_pb2.InjectedTx) -> bytes:
    return INJECTED_TX_MAGIC + message.SerializeToString(deterministic=True)


def decode_injected_tx(raw: bytes) -> injected_pb2.InjectedTx:
    """The canonical `InjectedTx` after the magic; `MalformedInjectedTx` otherwise
    (wrong magic or version, bad protobuf, unknown fields, non-canonical bytes, no kind)."""
    if not raw.startswith(INJECTED_TX_MAGIC):
        raise MalformedInjectedTx("missing the injected-tx magic or unknown envelope version")
    body = raw[len(INJECTED_TX_MAGIC):]
    try:
        message = parse_canonical(injected_pb2.InjectedTx, body)
    except NotProtobuf as exc:
        raise MalformedInjectedTx(f"not a valid InjectedTx ({exc})") from None
    except NotCanonical:
        raise MalformedInjectedTx("non-canonical encoding or unknown fields") from None
    if message.WhichOneof("kind") is None:
        raise MalformedInjectedTx("InjectedTx without a kind")
    return message


def encode_ordering_tx(output: VdfOutput, iterations: int) -> bytes:
    message = injected_pb2.InjectedTx(ordering=injected_pb2.OrderingTx(
        y=output.y, proof=output.proof, iterations=iterations))
    return encode_injected_tx(message)


def _ordering_from_message(message: injected_pb2.InjectedTx) -> OrderingTx:
    if message.WhichOneof("kind") != "ordering":
        raise MalformedInjectedTx(f"injected tx of kind {message.WhichOneof('kind')}, "
                                  "expected ordering")
    ordering = message.ordering
    if len(ordering.y) != FORM_BYTES or len(ordering.proof) != FORM_BYTES:
        raise MalformedInjectedTx(f"y and proof must be {FORM_BYTES} bytes each")
    return OrderingTx(y=ordering.y, proof=ordering.proof, iterations=ordering.iterations)


def decode_ordering_tx(raw: bytes) -> OrderingTx:
    """The ordering tx in `raw`; `MalformedInjectedTx` if it is not a well-formed one."""
    return _ordering_from_message(decode_injected_tx(raw))


def ordering_tx_size(iterations: int) -> int:
    """Exact size of the ordering tx for T = `iterations` (y and π have fixed sizes), for
    the proposer's `max_tx_bytes` budget."""
    return len(encode_ordering_tx(VdfOutput(bytes(FORM_BYTES), bytes(FORM_BYTES)), iterations))


# --- proposal building and checking ------------------------------------------------------


def split_block(txs: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(injected txs, user txs) of a block whose injected txs all come first;
    `InvalidBlockOrder("misplaced_injected_tx")` if one follows a user tx."""
    count = 0
    while count < len(txs) and is_injected_tx(txs[count]):
        count += 1
    for index in range(count, len(txs)):
        if is_injected_tx(txs[index]):
            raise InvalidBlockOrder("misplaced_injected_tx",
                                    f"injected tx at index {index} follows a user tx")
    return list(txs[:count]), list(txs[count:])


def prepare_block_order(
    user_txs: Sequence[bytes],
    *,
    chain_id: str,
    height: int,
    prev_app_hash: bytes,
    iterations: int,
    discriminant_bits: int,
    deadline_s: float | None = None,
    empty_job: ProveJob | None = None,
    started: ProveJob | None = None,
) -> BlockOrder:
    """PrepareProposal's ordering: seed over the selected user txs, VDF, sorted txs.

    `started` is an evaluation begun earlier (the proposer's head start: chain/app.py); it is
    used, finished or still running, when its seed and T are this block's, else ignored.

    `empty_job` is the evaluation of the empty-set seed of this height, started when the
    previous app hash became known (`compute_seed(chain_id, height, prev_app_hash, [])`); a
    job for another seed or T is ignored. With it and `deadline_s`, an evaluation over the
    user txs that is not done in time is stopped and the block falls back to no user txs
    (they stay in the mempool) with the precomputed output. Without a precomputed fallback
    there is nothing faster to fall back to (every evaluation costs the same T squarings), so
    the evaluation runs to the end. With no user txs a matching `empty_job` is used directly."""
    empty_seed = compute_seed(chain_id, height, prev_app_hash, [])
    if empty_job is not None and not empty_job.matches(empty_seed, iterations, discriminant_bits):
        empty_job = None
    if user_txs:
        seed = compute_block_seed(chain_id, height, prev_app_hash, user_txs)
        if started is not None and not started.matches(seed, iterations, discriminant_bits):
            started = None
        with_deadline = deadline_s is not None and empty_job is not None
        if started is None and not with_deadline:
            output: VdfOutput | None = prove(seed, iterations, discriminant_bits)
        else:
            job = started or ProveJob(seed, iterations, discriminant_bits)
            output = job.result(deadline_s if with_deadline else None)
            if output is None:
                job.cancel()
        if output is not None:
            return BlockOrder(seed, output, iterations, tuple(order_txs(output.y, user_txs)))
    fallback = empty_job.result() if empty_job is not None else None
    if fallback is None:
        fallback = prove(empty_seed, iterations, discriminant_bits)
    return BlockOrder(empty_seed, fallback, iterations, ())


def check_block_order(
    txs: Sequence[bytes],
    *,
    chain_id: str,
    height: int,
    prev_app_hash: bytes,
    iterations: int,
    discriminant_bits: int,
) -> BlockOrder:
    """ProcessProposal's ordering check over the block's full tx list.

    Checks, in order: injected txs (0x00-prefixed) all come before user txs and each decodes
    canonically; exactly one of them is an ordering tx and it is the last injected tx (other
    kinds, i.e. the oracle tx, are checked by their own module); its T equals `iterations`;
    its proof verifies for the seed recomputed from the user txs; the user txs are in the
    order its output gives. Returns the verified `BlockOrder`; raises `InvalidBlockOrder`
    (never anything else for bad block content)."""
    injected, user = split_block(txs)
    ordering: OrderingTx | None = None
    for index, raw in enumerate(injected):
        try:
            message = decode_injected_tx(raw)
        except MalformedInjectedTx as exc:
            raise InvalidBlockOrder("malformed_injected_tx", f"tx {index}: {exc}") from None
        if message.WhichOneof("kind") != "ordering":
            continue
        if ordering is not None:
            raise InvalidBlockOrder("duplicate_ordering_tx", f"second ordering tx at index {index}")
        if index != len(injected) - 1:
            raise InvalidBlockOrder("misplaced_injected_tx",
                                    f"ordering tx at index {index} is not the last injected tx")
        try:
            ordering = _ordering_from_message(message)
        except MalformedInjectedTx as exc:
            raise InvalidBlockOrder("malformed_injected_tx", f"tx {index}: {exc}") from None
    if ordering is None:
        raise InvalidBlockOrder("missing_ordering_tx", "the block carries no ordering tx")
    if ordering.iterations != iterations:
        raise InvalidBlockOrder("wrong_iterations",
                                f"ordering tx has T={ordering.iterations}, the chain uses {iterations}")
    seed = compute_block_seed(chain_id, height, prev_app_hash, user)
    if not verify(seed, iterations, discriminant_bits, ordering.y, ordering.proof):
        raise InvalidBlockOrder("invalid_proof",
                                f"VDF proof does not verify for seed {seed.hex()}")
    if order_txs(ordering.y, user) != user:
        raise InvalidBlockOrder("wrong_order", "user txs are not in the order the VDF output gives")
    return BlockOrder(seed, ordering.output, iterations, tuple(user))
