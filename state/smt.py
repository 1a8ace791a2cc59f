"""Batched updates and proof generation for Optio's sparse Merkle tree.

The hashing rules and proof format are in ``state/proof.py``; this module walks and rebuilds
the tree. Nodes are content-addressed: a node's record is its hash preimage, so the tree is
read through a ``load(hash) -> record`` callable (or a native ``NodeMap``, which holds a
whole tree) and every update returns the records it created. The tree is kept canonical
(an empty subtree is ``EMPTY_HASH``, a one-key subtree is that key's leaf, anything larger
is an internal node), so the root depends only on the set of (key, value) pairs, never on
the order or batching of the writes that produced it.

``TreeUpdater``, which rebuilds the tree, is native code (``chain/native/src/smt.rs`` in the
``optio_native`` extension, typed in ``chain/native/optio_native.pyi``) because it hashes
every node a block changes: 6 to 10 µs per changed key in Python, 1.6 to 2.6 µs there
(docs/state-store.md). Its executable specification is the Python model in
``tests/state/smt_reference.py``. It raises ``MissingNodeError`` (below) for a node that
``load`` does not know, and ``ValueError`` for malformed input: a hash or path that is not
32 bytes, updates not sorted by path or with a path twice, a record that is not 65 bytes
with a leaf or internal tag.
"""

from __future__ import annotations

from collections.abc import Callable

from state.proof import (
    EMPTY_HASH,
    HASH_SIZE,
    INTERNAL_TAG,
    KIND_EMPTY,
    KIND_OTHER_LEAF,
    KIND_PRESENT,
    LEAF_TAG,
    SmtProof,
    path_bit,
)

try:
    from optio_native import NodeMap, TreeUpdater
except ImportError as exc:  # pragma: no cover - a set-up error, not a code path
    raise ImportError("the optio_native extension is not installed: run ./localnet/setup.sh "
                      "(it builds chain/native with cargo)") from exc

NodeLoader = Callable[[bytes], bytes]
"""Returns the record of the node with the given hash; raises KeyError if it is unknown."""

Update = tuple[bytes, bytes | None]
"""(path, value hash), or (path, None) to remove the key at that path."""


class MissingNodeError(Exception):
    """A node reachable from a root is not in the node store: the database is corrupt."""


def build_proof(root: bytes, path: bytes, load: NodeLoader) -> tuple[SmtProof, bytes | None]:
    """Proof for ``path`` under ``root`` and the value hash found there (None when absent)."""
    siblings: list[bytes] = []
    node = root
    depth = 0
    while True:
        if node == EMPTY_HASH:
            return SmtProof(KIND_EMPTY, tuple(siblings)), None
        try:
            record = load(node)
        except KeyError:
            raise MissingNodeError(node.hex()) from None
        if record[:1] == LEAF_TAG:
            leaf_path = record[1 : 1 + HASH_SIZE]
            leaf_vhash = record[1 + HASH_SIZE :]
            if leaf_path == path:
                return SmtProof(KIND_PRESENT, tuple(siblings)), leaf_vhash
            return SmtProof(KIND_OTHER_LEAF, tuple(siblings), leaf_path, leaf_vhash), None
        if record[:1] != INTERNAL_TAG:
            raise MissingNodeError(f"bad record tag for node {node.hex()}")
        if path_bit(path, depth):
            siblings.append(record[1 : 1 + HASH_SIZE])
            node = record[1 + HASH_SIZE :]
        else:
            siblings.append(record[1 + HASH_SIZE :])
            node = record[1 : 1 + HASH_SIZE]
        depth += 1
