"""The authenticated store: app state on LevelDB under a sparse Merkle tree whose root is the app hash.

``Store`` owns the database (layout in ``state/keys.py`` section 1 and docs/state-store.md).
``WorkingState`` stages the writes of a block (or of the mempool check state) in memory over
the last committed state; ``Store.commit`` persists one of them in a single atomic,
synced LevelDB write batch. Hashing is batched: writes only mark keys dirty, and
``WorkingState.app_hash`` applies all dirty keys to the tree at once, sorted by path.

The disk holds the values, the height and the app hash; the tree lives in memory (a native
``NodeMap``). Opening a store rebuilds the tree from the values and checks its root against
the stored app hash, so a commit writes one record per changed value instead of every tree
node the block changed, and a crash at any point leaves nothing to repair.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterator
from itertools import islice
from typing import Final

import plyvel

from state.keys import (
    LEGACY_NODE_PREFIX,
    STORE_META_APP_HASH,
    STORE_META_HEIGHT,
    STORE_VALUE_PREFIX,
    store_value_key,
)
from state.proof import EMPTY_HASH, key_path, value_hash
from state.smt import NodeMap, TreeUpdater, build_proof

DEFAULT_VALUE_CACHE_SIZE: Final = 200_000
"""Committed values (or absences) kept in memory: every tx reads its accounts' records
again in CheckTx, in the mempool replay and in FinalizeBlock (about 150 bytes each)."""


class StoreCorruptError(Exception):
    """The values on disk do not hash to the committed app hash."""


class StaleWorkingStateError(Exception):
    """A WorkingState was used after a commit replaced the state it was built on (a bug)."""


class _Missing:
    """Marker for 'no staged entry' in undo logs (distinct from a staged deletion)."""

    __slots__ = ()


_MISSING: Final = _Missing()


class _ValueCache:
    """Committed values by key, None for a key known absent: a pure cache of the value table.

    Reads add what they fetch; each commit overwrites the entries of the keys it wrote, so
    an entry is never stale. Past ``capacity`` entries the oldest half is dropped at the
    next commit (reads are cheap to repeat; stale entries are impossible either way)."""

    __slots__ = ("_capacity", "entries")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self.entries: dict[bytes, bytes | None] = {}

    def commit(self, staged: list[tuple[bytes, bytes | None]]) -> None:
        entries = self.entries
        entries.update(staged)
        if len(entries) > self._capacity:
            keep = list(islice(entries.items(), len(entries) - self._capacity // 2, None))
            entries.clear()
            entries.update(keep)


class Store:
    """A node's authenticated state database (one LevelDB directory)."""

    def __init__(self, path: str | os.PathLike[str],
                 value_cache_size: int = DEFAULT_VALUE_CACHE_SIZE) -> None:
        """Open (or create) the database at `path` and rebuild its tree; `StoreCorruptError`
        if the values do not hash to the stored app hash."""
        # No block compression: values are mostly small integers and hashes, which do not
        # compress, so snappy would only burn CPU in every flush and compaction.
        self._db = plyvel.DB(str(path), create_if_missing=True, compression=None)
        self._values = _ValueCache(value_cache_size)
        raw_height = self._db.get(STORE_META_HEIGHT)
        self._height = int.from_bytes(raw_height, "big") if raw_height is not None else 0
        self._drop_legacy_nodes()
        self._nodes = NodeMap()
        self._root: bytes = self._rebuild_tree()
        stored: bytes = self._db.get(STORE_META_APP_HASH, EMPTY_HASH)
        if self._root != stored:
            self._db.close()
            raise StoreCorruptError(
                f"{path}: the values on disk hash to {self._root.hex()}, but the app hash "
                f"committed at height {self._height} is {stored.hex()}")
        # Number of commits made through this handle, bumped by each: a WorkingState
        # remembers the generation it was built on (a plain attribute: read on every get).
        self.generation = 0
        # The WorkingState of the last commit through this handle (overlays of it may rebase).
        self.last_committed: WorkingState | None = None

    @property
    def last_height(self) -> int:
        """Height of the last commit, 0 when nothing was ever committed."""
        return self._height

    @property
    def last_app_hash(self) -> bytes:
        """Tree root of the last commit (``EMPTY_HASH`` for the empty state)."""
        return self._root

    def working(self) -> WorkingState:
        """A fresh staging layer over the last committed state."""
        return WorkingState(self)

    def get(self, key: bytes) -> bytes | None:
        """Committed value of ``key``."""
        entries = self._values.entries
        value = entries.get(key, _MISSING)
        if value is _MISSING:
            value = entries[key] = self._db.get(store_value_key(key))
        return value  # type: ignore[return-value]

    def load_node(self, node: bytes) -> bytes:
        """Record of a node of the committed tree; KeyError when the tree has no such node."""
        return self._nodes.get(node)

    @property
    def nodes(self) -> NodeMap:
        """Every node of the committed tree (read-only for everyone but `commit`)."""
        return self._nodes

    def _rebuild_tree(self) -> bytes:
        """Build the tree of every committed value into the (empty) node map; its root."""
        skip = len(STORE_VALUE_PREFIX)
        items = [(db_key[skip:], value)
                 for db_key, value in self._db.iterator(prefix=STORE_VALUE_PREFIX)]
        updater = TreeUpdater(self._nodes)
        root: bytes = updater.apply_values(EMPTY_HASH, items)
        self._nodes.commit(updater, root)
        return root

    def _drop_legacy_nodes(self) -> None:
        """Delete the node records that stores written before the tree moved to memory kept
        on disk (`LEGACY_NODE_PREFIX`): nothing reads them any more."""
        legacy = list(self._db.iterator(prefix=LEGACY_NODE_PREFIX, include_value=False))
        if legacy:
            with self._db.write_batch(sync=True) as batch:
                for db_key in legacy:
                    batch.delete(db_key)

    def prove(self, key: bytes) -> tuple[bytes | None, bytes, int]:
        """(value or None, proof bytes, height) for ``key`` against ``last_app_hash``.

        The proof is checked by ``state.proof.verify(last_app_hash, key, value, proof)``.
        CometBFT puts this app hash in the header of block ``height + 1``.
        """
        value = self.get(key)
        proof, vhash = build_proof(self._root, key_path(key), self.load_node)
        expected = value_hash(value) if value is not None else None
        if vhash != expected:
            raise RuntimeError(f"store corrupt: value table and tree disagree on key {key.hex()}")
        return value, proof.encode(), self._height

    def commit(self, ws: WorkingState, height: int) -> bytes:
        """Persist ``ws`` as ``height`` in one synced LevelDB batch; returns the app hash.

        Every WorkingState of this store, ``ws`` included, is stale afterwards.
        """
        ws.check_fresh()
        if ws._base is not None:
            raise TypeError("an overlay cannot be committed; commit its base")
        if height <= self._height:
            raise ValueError(f"commit height {height} is not above last height {self._height}")
        root = ws.app_hash()
        staged = ws.staged_items()
        batch = self.build_commit_batch(height, root, staged)
        batch.write()
        self._height = height
        self._root = root
        self.generation += 1
        self.last_committed = ws
        ws.commit_tree(self._nodes, root)
        self._values.commit(staged)
        return root

    def build_commit_batch(
        self, height: int, root: bytes, staged: list[tuple[bytes, bytes | None]]
    ) -> plyvel.WriteBatch:
        """The single write batch of a commit: the changed values (`staged`, the
        WorkingState's `staged_items()`), height, app hash."""
        batch = self._db.write_batch(sync=True)
        for key, value in staged:
            if value is None:
                batch.delete(store_value_key(key))
            else:
                batch.put(store_value_key(key), value)
        batch.put(STORE_META_HEIGHT, height.to_bytes(8, "big"))
        batch.put(STORE_META_APP_HASH, root)
        return batch

    def iterate_committed(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Committed (key, value) pairs whose key starts with ``prefix``, in key order."""
        skip = len(STORE_VALUE_PREFIX)
        for db_key, value in self._db.iterator(prefix=store_value_key(prefix)):
            yield db_key[skip:], value

    def node_count(self) -> int:
        """Number of nodes in the committed tree."""
        return len(self._nodes)

    def close(self) -> None:
        """Close the database; the Store and its WorkingStates are unusable afterwards."""
        self._db.close()


class WorkingState:
    """Staged writes over the last committed state of a Store.

    Used for the block being executed and for the mempool check state. Once the store
    commits (any WorkingState), every WorkingState created before is stale and raises
    ``StaleWorkingStateError``; the app creates new ones with ``Store.working()``.

    An *overlay* (`overlay()`) stages writes over another WorkingState instead, reading
    through to its current content: the mempool's check state over a finalized block that
    is not committed yet. Once the store commits that block, `rebase()` makes the overlay
    read the committed state (the same content) and it lives on as an ordinary WorkingState;
    before that it cannot be committed and has no app hash.
    """

    __slots__ = ("_store", "_generation", "_base", "_read", "_staged", "_sorted_keys", "_undo",
                 "_dirty", "_root", "_updater")

    def __init__(self, store: Store, base: WorkingState | None = None) -> None:
        self._store = store
        self._generation = store.generation
        self._base = base
        self._read = store.get if base is None else base.get
        # key -> value, or None for a staged deletion.
        self._staged: dict[bytes, bytes | None] = {}
        # Staged keys in order, rebuilt lazily when the set of staged keys changes, so that
        # repeated iterate() calls during a block do not re-sort everything each time.
        self._sorted_keys: list[bytes] | None = []
        # One undo log per open transaction(): (key, staged entry before the write).
        self._undo: list[list[tuple[bytes, bytes | None | _Missing]]] = []
        # Keys written since the tree was last brought up to date by app_hash().
        self._dirty: set[bytes] = set()
        self._root = store.last_app_hash
        self._updater = TreeUpdater(store.nodes)

    def check_fresh(self) -> None:
        """Raise StaleWorkingStateError if the store committed since this was created."""
        if self._generation != self._store.generation:
            raise StaleWorkingStateError("working state used after a commit; create a new one")

    def get(self, key: bytes) -> bytes | None:
        """Current value of ``key`` (staged, else committed); None when absent."""
        if self._generation != self._store.generation:
            self.check_fresh()
        staged = self._staged.get(key, _MISSING)
        if staged is _MISSING:
            return self._read(key)
        return staged  # type: ignore[return-value]

    def set(self, key: bytes, value: bytes) -> None:
        """Stage ``key`` = ``value``."""
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise TypeError("store keys and values are bytes")
        self._write(key, value)

    def delete(self, key: bytes) -> None:
        """Stage the removal of ``key`` (a no-op on the root if it is absent)."""
        if not isinstance(key, bytes):
            raise TypeError("store keys are bytes")
        self._write(key, None)

    def _write(self, key: bytes, value: bytes | None) -> None:
        if self._generation != self._store.generation:
            self.check_fresh()
        staged = self._staged
        previous = staged.get(key, _MISSING)
        if self._undo:
            self._undo[-1].append((key, previous))
        if previous is _MISSING:
            self._sorted_keys = None
        staged[key] = value
        self._dirty.add(key)

    def iterate(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs whose key starts with ``prefix``, in key order.

        Merges staged writes over the committed state, hiding deleted keys. The staged
        side is captured when this is called; writes made while iterating are not seen.
        """
        self.check_fresh()
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self._staged)
        keys = self._sorted_keys
        staged: list[tuple[bytes, bytes | None]] = []
        for index in range(bisect_left(keys, prefix), len(keys)):
            key = keys[index]
            if not key.startswith(prefix):
                break
            staged.append((key, self._staged[key]))
        below = (self._store.iterate_committed(prefix) if self._base is None
                 else self._base.iterate(prefix))
        return _merge_sorted(below, staged)

    def changes(self, *prefixes: bytes) -> Iterator[tuple[bytes, bytes | None, bytes | None]]:
        """(key, committed value, staged value) of every key under one of `prefixes` written
        since the last commit (None = absent), in no particular order; not for an overlay,
        whose writes are relative to its base."""
        self.check_fresh()
        if self._base is not None:
            raise TypeError("an overlay's writes are relative to its base, not to the committed state")
        committed = self._store.get
        return ((key, committed(key), value) for key, value in self._staged.items()
                if key.startswith(prefixes))

    def overlay(self) -> WorkingState:
        """A new WorkingState staging its writes over this one's current content."""
        self.check_fresh()
        return WorkingState(self._store, self)

    def rebase(self) -> None:
        """After the store committed this overlay's base, read the committed state."""
        if self._base is None or self._store.last_committed is not self._base:
            raise ValueError("rebase: the store did not just commit this overlay's base")
        self._base = None
        self._read = self._store.get
        self._generation = self._store.generation
        # Its tree starts from the committed root, which already holds the base's writes:
        # every write of its own is still in `_dirty` (an overlay is never hashed).
        self._root = self._store.last_app_hash

    def transaction(self) -> _Transaction:
        """`with ws.transaction():` undoes every write made inside the block if it raises
        (then re-raises). Nests."""
        return _Transaction(self)

    def _rollback(self, log: list[tuple[bytes, bytes | None | _Missing]]) -> None:
        for key, previous in reversed(log):
            if isinstance(previous, _Missing):
                del self._staged[key]
                self._sorted_keys = None
            else:
                self._staged[key] = previous
            self._dirty.add(key)

    def app_hash(self) -> bytes:
        """Tree root with every staged write applied; cached until the next write."""
        self.check_fresh()
        if self._base is not None:
            raise TypeError("an overlay has no app hash of its own")
        if self._dirty:
            staged, committed = self._staged, self._store.get
            # A rolled-back key is back to its committed value.
            items = [(key, committed(key) if (value := staged.get(key, _MISSING)) is _MISSING
                      else value) for key in self._dirty]
            self._root = self._updater.apply_values(self._root, items)
            self._dirty.clear()
        return self._root

    def commit_tree(self, nodes: NodeMap, root: bytes) -> None:
        """Make `nodes` (the tree this state was built on) the tree of ``root``."""
        nodes.commit(self._updater, root)

    def staged_items(self) -> list[tuple[bytes, bytes | None]]:
        """Staged (key, value or None for deletion) pairs in key order."""
        return sorted(self._staged.items())


class _Transaction:
    """The context manager of `WorkingState.transaction` (a class: it runs for every tx, and
    a generator-based one costs three times as much)."""

    __slots__ = ("_ws",)

    def __init__(self, ws: WorkingState) -> None:
        self._ws = ws

    def __enter__(self) -> None:
        self._ws._undo.append([])

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        undo = self._ws._undo
        log = undo.pop()
        if exc_type is not None:
            self._ws._rollback(log)
        elif undo:
            # The enclosing transaction must be able to undo these writes too.
            undo[-1].extend(log)
        return False


def _merge_sorted(
    committed: Iterator[tuple[bytes, bytes]], staged: list[tuple[bytes, bytes | None]]
) -> Iterator[tuple[bytes, bytes]]:
    """Merge two key-ordered streams; a staged entry overrides the committed one."""
    i = 0
    for key, value in committed:
        while i < len(staged) and staged[i][0] < key:
            staged_key, staged_value = staged[i]
            i += 1
            if staged_value is not None:
                yield staged_key, staged_value
        if i < len(staged) and staged[i][0] == key:
            staged_value = staged[i][1]
            i += 1
            if staged_value is not None:
                yield key, staged_value
        else:
            yield key, value
    for staged_key, staged_value in staged[i:]:
        if staged_value is not None:
            yield staged_key, staged_value
