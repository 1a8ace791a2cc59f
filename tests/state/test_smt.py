"""Sparse Merkle tree updates: canonical roots independent of write order and batching."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from state.proof import EMPTY_HASH, key_path, value_hash
from state.smt import TreeUpdater

keys = st.binary(min_size=1, max_size=8)


def _root_of(pairs: list[tuple[bytes, bytes | None]], batch_size: int) -> bytes:
    """Root after applying ``pairs`` in order, hashing every ``batch_size`` writes."""
    nodes: dict[bytes, bytes] = {}
    root = EMPTY_HASH
    for start in range(0, len(pairs), batch_size):
        batch: dict[bytes, bytes | None] = {}
        for key, value in pairs[start : start + batch_size]:
            batch[key_path(key)] = value_hash(value) if value is not None else None
        updater = TreeUpdater(nodes.__getitem__)
        root = updater.apply(root, sorted(batch.items()))
        nodes.update(updater.new_nodes)
    return root


def _final(pairs: list[tuple[bytes, bytes | None]]) -> dict[bytes, bytes]:
    state: dict[bytes, bytes] = {}
    for key, value in pairs:
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return state


writes = st.lists(st.tuples(keys, st.none() | st.binary(max_size=8)), max_size=60)


@settings(max_examples=80, deadline=None)
@given(pairs=writes, batch_size=st.integers(1, 70))
def test_root_depends_only_on_the_final_key_value_set(pairs, batch_size) -> None:
    final = sorted(_final(pairs).items())
    assert _root_of(pairs, batch_size) == _root_of(list(final), len(final) or 1)


@settings(max_examples=50, deadline=None)
@given(items=st.dictionaries(keys, st.binary(max_size=8), max_size=40), data=st.data())
def test_root_is_independent_of_insertion_order(items, data) -> None:
    pairs: list[tuple[bytes, bytes | None]] = list(items.items())
    shuffled = data.draw(st.permutations(pairs))
    assert _root_of(pairs, 1) == _root_of(shuffled, 1) == _root_of(pairs, 1000)


@settings(max_examples=50, deadline=None)
@given(items=st.dictionaries(keys, st.binary(max_size=8), max_size=40), extra=keys, value=st.binary(max_size=8))
def test_delete_restores_the_previous_root(items, extra, value) -> None:
    base = [(k, v) for k, v in items.items() if k != extra]
    before = _root_of(base, 1000)
    assert _root_of(base + [(extra, value), (extra, None)], 1) == before


def test_single_key_tree_root_is_its_leaf_and_empty_tree_is_zero() -> None:
    assert _root_of([], 1) == EMPTY_HASH
    updater = TreeUpdater({}.__getitem__)
    root = updater.apply(EMPTY_HASH, [(key_path(b"k"), value_hash(b"v"))])
    assert updater.new_nodes[root] == b"\x00" + key_path(b"k") + value_hash(b"v")


def test_only_nodes_reachable_from_the_final_root_are_kept_for_commit() -> None:
    nodes: dict[bytes, bytes] = {}
    updater = TreeUpdater(nodes.__getitem__)
    root = updater.apply(EMPTY_HASH, sorted((key_path(bytes([i])), value_hash(b"a")) for i in range(50)))
    root = updater.apply(root, sorted((key_path(bytes([i])), value_hash(b"b")) for i in range(50)))
    kept, _ = updater.committable_nodes(root)
    leaves = [record for _, record in kept if record[0] == 0]
    assert len(leaves) == 50
    assert all(record.endswith(value_hash(b"b")) for record in leaves)
    assert len(kept) < len(updater.new_nodes)
