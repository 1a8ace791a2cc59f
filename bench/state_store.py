"""Benchmark of the authenticated store: Optio's sparse Merkle tree against the `trie` package.

Both contenders sit on the same plyvel LevelDB and do the same work: pre-populate a state,
then apply blocks of 5,000 writes (updates, inserts, deletes) with one root computation and
one synced WriteBatch per block, then generate and verify proofs for present and absent
keys. Both also keep the flat key -> value table the app needs for ordered iteration, so
the only difference is the authenticated structure.

Run: ``.venv/bin/python bench/state_store.py`` (100k keys) or ``--quick`` (20k keys).
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import shutil
import statistics
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import plyvel
import rlp
from trie import HexaryTrie

from state.proof import verify
from state.store import Store

BLOCK_WRITES = 5_000
VALUE_PREFIX = b"v"
TRIE_NODE_PREFIX = b"t"
TRIE_ROOT_KEY = b"m/trie_root"
CACHE_NODES = 500_000
POPULATE_CHUNK = 25_000


@dataclass(frozen=True, slots=True)
class Workload:
    """Keys to pre-populate, the blocks of writes, and the keys to prove."""

    initial: list[tuple[bytes, bytes]]
    blocks: list[list[tuple[bytes, bytes | None]]]
    probes: list[bytes]


@dataclass(frozen=True, slots=True)
class Figures:
    """Measured figures of one contender (milliseconds unless the name says otherwise)."""

    populate_s: float
    block_ms: float
    block_hash_ms: float
    block_write_ms: float
    proof_gen_us: float
    proof_verify_us: float
    proof_bytes: float
    live_mib: float


def _key(i: int) -> bytes:
    # Shaped like real state keys: a short readable prefix and a length-prefixed id.
    return b"bal/" + bytes((8,)) + i.to_bytes(8, "big") + b"\x04uusd"


def make_workload(initial_keys: int, blocks: int, probes: int, seed: int = 7) -> Workload:
    rng = random.Random(seed)
    initial = [(_key(i), rng.randbytes(16)) for i in range(initial_keys)]
    live = list(range(initial_keys))
    next_id = initial_keys
    all_blocks: list[list[tuple[bytes, bytes | None]]] = []
    for _ in range(blocks):
        block: dict[bytes, bytes | None] = {}
        # 70% updates of existing keys, 20% inserts, 10% deletes.
        for i in rng.sample(live, int(BLOCK_WRITES * 0.8)):
            block[_key(i)] = rng.randbytes(16)
        deleted = list(block)[: BLOCK_WRITES // 10]
        for key in deleted:
            block[key] = None
        for _ in range(BLOCK_WRITES - len(block)):
            block[_key(next_id)] = rng.randbytes(16)
            live.append(next_id)
            next_id += 1
        gone = {int.from_bytes(key[5:13], "big") for key in deleted}
        live = [i for i in live if i not in gone]
        all_blocks.append(list(block.items()))
    present = [_key(i) for i in rng.sample(live, probes // 2)]
    absent = [_key(next_id + i) for i in range(probes - probes // 2)]
    return Workload(initial, all_blocks, present + absent)


def _live_mib(path: Path) -> float:
    """Bytes of all live records (keys + values): what the DB holds before LevelDB overhead."""
    db = plyvel.DB(str(path))
    try:
        return sum(len(key) + len(value) for key, value in db.iterator()) / (1 << 20)
    finally:
        db.close()


Writes = list[tuple[bytes, bytes | None]]


class SmtContender:
    """Optio's Store: writes staged in a WorkingState, one app_hash, one commit."""

    name = "smt"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = Store(str(path))

    def commit_block(self, writes: Writes) -> tuple[float, float]:
        """(total seconds, root-computation seconds) for one block."""
        t0 = time.perf_counter()
        ws = self.store.working()
        for key, value in writes:
            if value is None:
                ws.delete(key)
            else:
                ws.set(key, value)
        t1 = time.perf_counter()
        ws.app_hash()
        t2 = time.perf_counter()
        self.store.commit(ws, self.store.last_height + 1)
        t3 = time.perf_counter()
        return t3 - t0, t2 - t1

    def prove_all(self, probes: list[bytes]) -> tuple[float, float, list[int]]:
        """(generation seconds, verification seconds, proof sizes) for ``probes``."""
        root = self.store.last_app_hash
        t0 = time.perf_counter()
        proofs = [self.store.prove(key) for key in probes]
        t1 = time.perf_counter()
        ok = all(verify(root, key, value, proof) for key, (value, proof, _) in zip(probes, proofs, strict=True))
        t2 = time.perf_counter()
        if not ok:
            raise AssertionError("an SMT proof failed to verify")
        return t1 - t0, t2 - t1, [len(proof) for _, proof, _ in proofs]

    def close(self) -> None:
        self.store.close()


class _TrieDB:
    """Node store for HexaryTrie over plyvel: LRU-cached reads, writes staged until commit."""

    def __init__(self, db: plyvel.DB) -> None:
        self.db = db
        self.pending: dict[bytes, bytes] = {}
        self.cache: OrderedDict[bytes, bytes] = OrderedDict()

    def __getitem__(self, node: bytes) -> bytes:
        value = self.pending.get(node)
        if value is not None:
            return value
        value = self.cache.get(node)
        if value is not None:
            self.cache.move_to_end(node)
            return value
        value = self.db.get(TRIE_NODE_PREFIX + node)
        if value is None:
            raise KeyError(node)
        self._remember(node, value)
        return value

    def _remember(self, node: bytes, value: bytes) -> None:
        self.cache[node] = value
        if len(self.cache) > CACHE_NODES:
            self.cache.popitem(last=False)

    def __setitem__(self, node: bytes, value: bytes) -> None:
        self.pending[node] = value

    def __delitem__(self, node: bytes) -> None:
        # squash_changes never deletes pre-existing nodes; scratch nodes are never persisted.
        self.pending.pop(node, None)

    def __contains__(self, node: bytes) -> bool:
        try:
            self[node]
        except KeyError:
            return False
        return True

    def flush_into(self, batch: plyvel.WriteBatch) -> None:
        for node, value in sorted(self.pending.items()):
            batch.put(TRIE_NODE_PREFIX + node, value)
            self._remember(node, value)
        self.pending.clear()


def _trie_key(key: bytes) -> bytes:
    # A "secure trie" as Ethereum uses it: hashed keys keep the trie balanced.
    return hashlib.sha256(key).digest()


class TrieContender:
    """trie.HexaryTrie over the same LevelDB, changes squashed per block, one synced batch."""

    name = "trie"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = plyvel.DB(str(path), create_if_missing=True)
        self.nodes = _TrieDB(self.db)
        self.trie = HexaryTrie(self.nodes)

    def commit_block(self, writes: Writes) -> tuple[float, float]:
        """(total seconds, root-computation seconds) for one block."""
        t0 = time.perf_counter()
        # squash_changes keeps only the nodes the final root still uses. The trie
        # re-hashes on every write, so its root time is the whole staging.
        with self.trie.squash_changes() as memory:
            for key, value in writes:
                if value is None:
                    memory.delete(_trie_key(key))
                else:
                    memory.set(_trie_key(key), value)
        t1 = time.perf_counter()
        batch = self.db.write_batch(sync=True)
        self.nodes.flush_into(batch)
        for key, value in writes:
            if value is None:
                batch.delete(VALUE_PREFIX + key)
            else:
                batch.put(VALUE_PREFIX + key, value)
        batch.put(TRIE_ROOT_KEY, self.trie.root_hash)
        batch.write()
        t2 = time.perf_counter()
        return t2 - t0, t1 - t0

    def prove_all(self, probes: list[bytes]) -> tuple[float, float, list[int]]:
        """(generation seconds, verification seconds, proof sizes) for ``probes``."""
        root = self.trie.root_hash
        t0 = time.perf_counter()
        proofs = [self.trie.get_proof(_trie_key(key)) for key in probes]
        t1 = time.perf_counter()
        for key, proof in zip(probes, proofs, strict=True):
            expected = self.db.get(VALUE_PREFIX + key) or b""
            if HexaryTrie.get_from_proof(root, _trie_key(key), proof) != expected:
                raise AssertionError("a trie proof failed to verify")
        t2 = time.perf_counter()
        # Proofs travel RLP-encoded in Ethereum (eth_getProof); measure them that way.
        return t1 - t0, t2 - t1, [len(rlp.encode(list(proof))) for proof in proofs]

    def close(self) -> None:
        self.db.close()


Contender = SmtContender | TrieContender
T = TypeVar("T")
A = TypeVar("A")


def _without_gc(fn: Callable[[A], T], arg: A) -> T:
    """Run a timed section with the cyclic GC off, as timeit does.

    Both contenders share one heap; otherwise the trie's many small objects make the
    collector's pauses land on whichever contender happens to allocate next.
    """
    gc.collect()
    gc.disable()
    try:
        return fn(arg)
    finally:
        gc.enable()


def run(root: Path, work: Workload) -> dict[str, Figures]:
    """Both contenders on the same workload, interleaved block by block.

    The machine is shared, so alternating who goes first spreads load spikes over both
    instead of letting them land on one contender's whole run.
    """
    contenders: list[Contender] = [SmtContender(root / "smt"), TrieContender(root / "trie")]
    populate = {c.name: 0.0 for c in contenders}
    totals: dict[str, list[float]] = {c.name: [] for c in contenders}
    hashes: dict[str, list[float]] = {c.name: [] for c in contenders}
    try:
        for index, start in enumerate(range(0, len(work.initial), POPULATE_CHUNK)):
            chunk: Writes = list(work.initial[start : start + POPULATE_CHUNK])
            for contender in contenders[index % 2 :] + contenders[: index % 2]:
                populate[contender.name] += contender.commit_block(chunk)[0]
        for index, block in enumerate(work.blocks):
            for contender in contenders[index % 2 :] + contenders[: index % 2]:
                total, hashing = _without_gc(contender.commit_block, block)
                totals[contender.name].append(total)
                hashes[contender.name].append(hashing)
        proofs = {c.name: _without_gc(c.prove_all, work.probes) for c in contenders}
    finally:
        for contender in contenders:
            contender.close()
    for contender in contenders:
        blocks_ms = ", ".join(f"{t * 1e3:.0f}" for t in totals[contender.name])
        print(f"{contender.name:5s} blocks (ms, in order): {blocks_ms}")
    return {
        c.name: _figures(populate[c.name], totals[c.name], hashes[c.name], *proofs[c.name], c.path)
        for c in contenders
    }


def _figures(
    populate: float,
    totals: list[float],
    hashes: list[float],
    gen: float,
    ver: float,
    sizes: list[int],
    path: Path,
) -> Figures:
    block = statistics.median(totals)
    hashing = statistics.median(hashes)
    return Figures(
        populate_s=round(populate, 2),
        block_ms=round(block * 1e3, 1),
        block_hash_ms=round(hashing * 1e3, 1),
        block_write_ms=round((block - hashing) * 1e3, 1),
        proof_gen_us=round(gen / len(sizes) * 1e6, 1),
        proof_verify_us=round(ver / len(sizes) * 1e6, 1),
        proof_bytes=round(statistics.mean(sizes), 1),
        live_mib=round(_live_mib(path), 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k initial keys, 3 blocks, 500 proofs")
    parser.add_argument("--keys", type=int, help="initial keys (default 100000, 20000 with --quick)")
    args = parser.parse_args()
    initial = args.keys or (20_000 if args.quick else 100_000)
    blocks = 3 if args.quick else 5
    probes = 500 if args.quick else 1_000
    work = make_workload(initial, blocks, probes)
    print(f"initial keys={initial}  blocks of {BLOCK_WRITES} writes={blocks} (median reported)  proofs={probes}")
    root = Path(tempfile.mkdtemp(prefix="optio-bench-store-"))
    try:
        figures = run(root, work)
    finally:
        shutil.rmtree(root)
    for name, figure in figures.items():
        print(f"{name:5s} " + "  ".join(f"{field}={getattr(figure, field)}" for field in Figures.__slots__))
    smt, trie = figures["smt"], figures["trie"]
    headline = {
        "initial_keys": initial,
        "smt_block_5000_ms": smt.block_ms,
        "trie_block_5000_ms": trie.block_ms,
        "block_speedup": round(trie.block_ms / smt.block_ms, 2),
        "smt_proof_gen_us": smt.proof_gen_us,
        "trie_proof_gen_us": trie.proof_gen_us,
        "smt_proof_verify_us": smt.proof_verify_us,
        "trie_proof_verify_us": trie.proof_verify_us,
        "smt_proof_bytes": smt.proof_bytes,
        "trie_proof_bytes": trie.proof_bytes,
        "smt_live_mib": smt.live_mib,
        "trie_live_mib": trie.live_mib,
    }
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
