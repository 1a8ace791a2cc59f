"""Hashing rules of Optio's sparse Merkle tree, its proof byte format, and proof verification.

This module is the client-side specification of the app hash: it needs only ``hashlib``
(no LevelDB), so the CLI wallet can check ``abci_query`` answers against a block header.

Tree (see docs/state-store.md): a key's *path* is SHA-256(key), 256 bits read from the most
significant bit of byte 0. A subtree holding no key hashes to ``EMPTY_HASH`` (32 zero
bytes); a subtree holding exactly one key is that key's leaf; otherwise it is an internal
node. The root of the whole app state is the app hash, and the empty state's root is
``EMPTY_HASH``. Leaves and internal nodes are domain-separated by their first byte, so no
internal node can be passed off as a leaf (second-preimage safety).

- leaf hash     = SHA-256(0x00 || path || SHA-256(value))
- internal hash = SHA-256(0x01 || left child hash || right child hash)

Proof bytes (all integers big-endian)::

    kind      1 byte   0 = path ends in an empty subtree (absence)
                       1 = path ends in the key's own leaf (presence)
                       2 = path ends in another key's leaf (absence)
    depth     2 bytes  number of internal nodes from the root to the terminal (0..256)
    bitmap    ceil(depth / 8) bytes, bit i (MSB first) set when sibling i is not empty;
              unused trailing bits are zero
    siblings  32 bytes per set bitmap bit, from the root downwards
    leaf      kind 2 only: the other key's path (32 bytes) and value hash (32 bytes)

The encoding is canonical: any other byte string for the same proof is rejected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PROOF_OP_TYPE = "optio:smt"
"""Type of the single ABCI ``ProofOp`` carrying these proof bytes (key = the state key)."""

HASH_SIZE = 32
PATH_BITS = 256
EMPTY_HASH = bytes(HASH_SIZE)
LEAF_TAG = b"\x00"
INTERNAL_TAG = b"\x01"
RECORD_SIZE = 1 + 2 * HASH_SIZE
"""Size of a node record: the tag and two 32-byte fields, exactly the node's hash preimage."""

KIND_EMPTY = 0
KIND_PRESENT = 1
KIND_OTHER_LEAF = 2


def key_path(key: bytes) -> bytes:
    """The 256-bit position of ``key`` in the tree."""
    return hashlib.sha256(key).digest()


def value_hash(value: bytes) -> bytes:
    """The digest of a value stored in a leaf."""
    return hashlib.sha256(value).digest()


def leaf_record(path: bytes, vhash: bytes) -> bytes:
    """The preimage of a leaf hash; also the leaf's stored record."""
    return LEAF_TAG + path + vhash


def internal_record(left: bytes, right: bytes) -> bytes:
    """The preimage of an internal node hash; also the node's stored record."""
    return INTERNAL_TAG + left + right


def node_hash(record: bytes) -> bytes:
    """Hash of a node given its record."""
    return hashlib.sha256(record).digest()


def path_bit(path: bytes, depth: int) -> int:
    """Bit ``depth`` of ``path`` (0 = most significant bit of byte 0): 0 goes left."""
    return (path[depth >> 3] >> (7 - (depth & 7))) & 1


def _common_prefix_bits(a: bytes, b: bytes) -> int:
    """Number of leading bits ``a`` and ``b`` share."""
    diff = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return PATH_BITS - diff.bit_length()


@dataclass(frozen=True, slots=True)
class SmtProof:
    """A decoded proof: the siblings along the key's path and what the path ends in."""

    kind: int
    siblings: tuple[bytes, ...]
    other_path: bytes = b""
    other_value_hash: bytes = b""

    def encode(self) -> bytes:
        """Canonical proof bytes (format in the module docstring)."""
        depth = len(self.siblings)
        bitmap = 0
        present: list[bytes] = []
        for i, sibling in enumerate(self.siblings):
            if sibling != EMPTY_HASH:
                bitmap |= 1 << (8 * _bitmap_len(depth) - 1 - i)
                present.append(sibling)
        parts = [bytes((self.kind,)), depth.to_bytes(2, "big"), bitmap.to_bytes(_bitmap_len(depth), "big")]
        parts.extend(present)
        if self.kind == KIND_OTHER_LEAF:
            parts.append(self.other_path)
            parts.append(self.other_value_hash)
        return b"".join(parts)


def _bitmap_len(depth: int) -> int:
    return (depth + 7) // 8


def decode_proof(data: bytes) -> SmtProof | None:
    """Parse proof bytes; ``None`` when they are malformed or not canonical."""
    if len(data) < 3:
        return None
    kind = data[0]
    if kind not in (KIND_EMPTY, KIND_PRESENT, KIND_OTHER_LEAF):
        return None
    depth = int.from_bytes(data[1:3], "big")
    if depth > PATH_BITS:
        return None
    nbytes = _bitmap_len(depth)
    bitmap = int.from_bytes(data[3 : 3 + nbytes], "big")
    unused = 8 * nbytes - depth
    if bitmap & ((1 << unused) - 1):
        return None
    count = bitmap.bit_count()
    tail = 2 * HASH_SIZE if kind == KIND_OTHER_LEAF else 0
    if len(data) != 3 + nbytes + count * HASH_SIZE + tail:
        return None
    offset = 3 + nbytes
    siblings: list[bytes] = []
    for i in range(depth):
        if bitmap >> (8 * nbytes - 1 - i) & 1:
            sibling = data[offset : offset + HASH_SIZE]
            offset += HASH_SIZE
            if sibling == EMPTY_HASH:
                return None
            siblings.append(sibling)
        else:
            siblings.append(EMPTY_HASH)
    if kind != KIND_OTHER_LEAF:
        return SmtProof(kind, tuple(siblings))
    return SmtProof(kind, tuple(siblings), data[offset : offset + HASH_SIZE], data[offset + HASH_SIZE :])


def compute_root(proof: SmtProof, path: bytes, value: bytes | None) -> bytes | None:
    """The root implied by ``proof`` for ``path`` holding ``value``; ``None`` if inconsistent."""
    depth = len(proof.siblings)
    if value is not None:
        if proof.kind != KIND_PRESENT:
            return None
        current = node_hash(leaf_record(path, value_hash(value)))
    elif proof.kind == KIND_EMPTY:
        current = EMPTY_HASH
    elif proof.kind == KIND_OTHER_LEAF:
        # The other leaf must sit in the subtree the key's path leads to, and be another key.
        if proof.other_path == path or _common_prefix_bits(proof.other_path, path) < depth:
            return None
        current = node_hash(leaf_record(proof.other_path, proof.other_value_hash))
    else:
        return None
    for level in range(depth - 1, -1, -1):
        sibling = proof.siblings[level]
        if path_bit(path, level):
            current = node_hash(internal_record(sibling, current))
        else:
            current = node_hash(internal_record(current, sibling))
    return current


def verify(root: bytes, key: bytes, value: bytes | None, proof: bytes) -> bool:
    """True when ``proof`` shows that, under ``root``, ``key`` holds ``value``.

    ``value=None`` checks absence of ``key``. Malformed proofs verify as False.
    """
    if len(root) != HASH_SIZE:
        return False
    decoded = decode_proof(proof)
    if decoded is None:
        return False
    return compute_root(decoded, key_path(key), value) == root
