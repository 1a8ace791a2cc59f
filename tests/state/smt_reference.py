"""The pure-Python sparse Merkle tree updater: the executable specification of the native one.

``state.smt.TreeUpdater`` is Rust (chain/native/src/smt.rs), a port of this class step for
step; tests/state/test_smt_native.py checks on random batches that both give the same roots,
create the same node records in the same order and list the same nodes for commit. Change
both together. The tree's rules are in ``state/smt.py`` and ``state/proof.py``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from state.proof import (
    EMPTY_HASH,
    HASH_SIZE,
    INTERNAL_TAG,
    LEAF_TAG,
    PATH_BITS,
    internal_record,
    leaf_record,
    node_hash,
)
from state.smt import MissingNodeError, NodeLoader, Update

Leaf = tuple[bytes, bytes]
"""(path, value hash) of a leaf."""


def _split(items: Sequence[tuple[bytes, object]], lo: int, hi: int, depth: int) -> int:
    """First index in ``items[lo:hi]`` whose path has bit ``depth`` set.

    The slice is sorted by path and shares the first ``depth`` bits, so it splits at the
    first path not below "shared prefix, then 1, then zeros"; a one-element tuple
    compares below every (path, ...) tuple with that path, so C-level bisect finds it.
    """
    shift = PATH_BITS - 1 - depth
    first = int.from_bytes(items[lo][0], "big")
    threshold = ((first >> shift) | 1) << shift
    return bisect_left(items, (threshold.to_bytes(HASH_SIZE, "big"),), lo, hi)


class TreeUpdater:
    """Applies sorted batches of updates to a root, collecting the new node records.

    ``new_nodes`` holds every record created (all reachable from the latest root while
    ``applies`` is at most 1); ``replaced`` holds the hashes of nodes that some batch
    removed from the tree, so the store can delete the ones the final root no longer
    uses. Each node hash occurs at most once in a tree (it commits to the paths of all
    leaves below it), which is what makes that deletion safe without reference counts.
    """

    __slots__ = ("_load", "new_nodes", "replaced", "applies")

    def __init__(self, load: NodeLoader) -> None:
        self._load = load
        self.new_nodes: dict[bytes, bytes] = {}
        self.replaced: set[bytes] = set()
        self.applies = 0

    def apply(self, root: bytes, updates: Sequence[Update]) -> bytes:
        """New root after ``updates`` (sorted by path, unique paths) are applied to ``root``."""
        if not updates:
            return root
        self.applies += 1
        new_root, _ = self._update(root, 0, updates, 0, len(updates))
        return new_root

    def committable_nodes(self, root: bytes) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
        """(records to write, children before parents; hashes to delete) for ``root``.

        Deletions are the replaced nodes the final root does not use. Their order is
        irrelevant: they all go into one write batch.
        """
        if self.applies <= 1:
            return list(self.new_nodes.items()), list(self.replaced.difference(self.new_nodes))
        written = reachable_new_nodes(root, self.new_nodes)
        return written, list(self.replaced.difference(node for node, _ in written))

    def _read(self, node: bytes) -> bytes:
        """Record of ``node``: created by an earlier batch of this updater, else loaded."""
        record = self.new_nodes.get(node)
        if record is not None:
            return record
        try:
            return self._load(node)
        except KeyError:
            raise MissingNodeError(node.hex()) from None

    def _leaf(self, path: bytes, vhash: bytes) -> bytes:
        record = leaf_record(path, vhash)
        digest = node_hash(record)
        self.new_nodes[digest] = record
        return digest

    def _internal(self, left: bytes, right: bytes) -> bytes:
        record = internal_record(left, right)
        digest = node_hash(record)
        self.new_nodes[digest] = record
        return digest

    def _is_leaf(self, node: bytes) -> bool:
        return node != EMPTY_HASH and self._read(node)[:1] == LEAF_TAG

    def _update(self, node: bytes, depth: int, ups: Sequence[Update], lo: int, hi: int) -> tuple[bytes, bool]:
        """(hash, is_leaf) of the subtree at ``node`` after applying ``ups[lo:hi]``."""
        if node == EMPTY_HASH:
            return self._build(depth, self._merge(ups, lo, hi, None))
        record = self._read(node)
        if record[:1] == LEAF_TAG:
            existing = (record[1 : 1 + HASH_SIZE], record[1 + HASH_SIZE :])
            result = self._build(depth, self._merge(ups, lo, hi, existing))
            if result[0] != node:
                self.replaced.add(node)
            return result
        old_left = record[1 : 1 + HASH_SIZE]
        old_right = record[1 + HASH_SIZE :]
        left, right = old_left, old_right
        mid = _split(ups, lo, hi, depth)
        left_leaf: bool | None = None
        right_leaf: bool | None = None
        if lo < mid:
            left, left_leaf = self._update(left, depth + 1, ups, lo, mid)
        if mid < hi:
            right, right_leaf = self._update(right, depth + 1, ups, mid, hi)
        if left == old_left and right == old_right:
            # Writes that change nothing (same value, absent key deleted) rewrite no node.
            return node, False
        result = self._join(left, left_leaf, right, right_leaf)
        if result[0] != node:
            self.replaced.add(node)
        return result

    def _join(self, left: bytes, left_leaf: bool | None, right: bytes, right_leaf: bool | None) -> tuple[bytes, bool]:
        """(hash, is_leaf) of a subtree from its children (leafness None = not yet known)."""
        # A one-key subtree must be represented by its leaf, so a leaf next to an empty
        # sibling moves up; an internal node next to an empty sibling stays where it is.
        if left == EMPTY_HASH:
            if right == EMPTY_HASH:
                return EMPTY_HASH, False
            if right_leaf if right_leaf is not None else self._is_leaf(right):
                return right, True
        elif right == EMPTY_HASH:
            if left_leaf if left_leaf is not None else self._is_leaf(left):
                return left, True
        return self._internal(left, right), False

    @staticmethod
    def _merge(ups: Sequence[Update], lo: int, hi: int, existing: Leaf | None) -> list[Leaf]:
        """Leaves of a subtree that held at most ``existing``, after ``ups[lo:hi]``."""
        leaves = [(path, vhash) for path, vhash in ups[lo:hi] if vhash is not None]
        if existing is not None:
            at = bisect_left(ups, existing[0], lo, hi, key=_path_of)
            if at == hi or ups[at][0] != existing[0]:
                leaves.insert(bisect_left(leaves, existing[0], key=_path_of), existing)
        return leaves

    def _build(self, depth: int, leaves: Sequence[Leaf]) -> tuple[bytes, bool]:
        """(hash, is_leaf) of the canonical subtree at ``depth`` holding ``leaves`` (sorted)."""
        if not leaves:
            return EMPTY_HASH, False
        if len(leaves) == 1:
            return self._leaf(*leaves[0]), True
        return self._build_range(depth, leaves, 0, len(leaves)), False

    def _build_range(self, depth: int, leaves: Sequence[Leaf], lo: int, hi: int) -> bytes:
        """Hash of the subtree at ``depth`` holding ``leaves[lo:hi]`` (at least two)."""
        mid = _split(leaves, lo, hi, depth)
        left = self._subtree(depth + 1, leaves, lo, mid)
        right = self._subtree(depth + 1, leaves, mid, hi)
        return self._internal(left, right)

    def _subtree(self, depth: int, leaves: Sequence[Leaf], lo: int, hi: int) -> bytes:
        if lo == hi:
            return EMPTY_HASH
        if hi - lo == 1:
            return self._leaf(*leaves[lo])
        return self._build_range(depth, leaves, lo, hi)


def _path_of(item: tuple[bytes, object]) -> bytes:
    return item[0]


def reachable_new_nodes(root: bytes, new_nodes: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    """The records of ``new_nodes`` reachable from ``root``, children before parents.

    Several batches applied before one commit leave intermediate nodes behind; only the
    ones the final root still uses are worth persisting. Old nodes are not in ``new_nodes``,
    so the walk stops at them.
    """
    out: list[tuple[bytes, bytes]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        record = new_nodes.get(node)
        if record is None:
            continue
        out.append((node, record))
        if record[:1] == INTERNAL_TAG:
            stack.append(record[1 + HASH_SIZE :])
            stack.append(record[1 : 1 + HASH_SIZE])
    # Reversed pre-order puts every node after all of its descendants.
    out.reverse()
    return out
