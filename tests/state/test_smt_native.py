"""The native TreeUpdater against its executable specification, tests/state/smt_reference.py.

Both get the same batches over the same node store and must agree byte for byte: roots, the
records created and their order, and what a commit writes and deletes.
"""

from __future__ import annotations

import gc
import random
import weakref

import pytest

from state.proof import EMPTY_HASH, INTERNAL_TAG, key_path, value_hash
from state.smt import MissingNodeError, TreeUpdater, Update
from tests.state import smt_reference

# Three values only, so that many writes set the value a key already has.
VALUES = [value_hash(bytes([v])) for v in range(3)]
PATH = key_path(b"k")


def _no_nodes(node: bytes) -> bytes:
    raise KeyError(node)


def _flip(path: bytes, bit: int) -> bytes:
    return (int.from_bytes(path, "big") ^ (1 << (255 - bit))).to_bytes(32, "big")


def _universe() -> list[bytes]:
    """Paths of 8,000 keys, plus paths that share up to 255 leading bits (deep subtrees)."""
    paths = [key_path(i.to_bytes(4, "big")) for i in range(8000)]
    base = key_path(b"deep")
    paths += [_flip(base, bit) for bit in (255, 254, 200, 128, 9)] + [base]
    paths += [bytes(32), bytes([255]) * 32, _flip(bytes(32), 255)]
    return paths


def _random_batch(rng: random.Random, universe: list[bytes]) -> list[Update]:
    """Sorted updates of unique paths: 1 key, tens, hundreds or thousands; a quarter deletes."""
    size = rng.choices([1, rng.randint(2, 40), rng.randint(40, 400), rng.randint(2000, 4000)],
                       weights=[30, 40, 25, 5])[0]
    return sorted((path, None if rng.random() < 0.25 else rng.choice(VALUES))
                  for path in rng.sample(universe, size))


def _reachable(root: bytes, store: dict[bytes, bytes]) -> set[bytes]:
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node == EMPTY_HASH:
            continue
        seen.add(node)
        record = store[node]
        if record[:1] == INTERNAL_TAG:
            stack += [record[1:33], record[33:]]
    return seen


def test_native_updater_matches_the_reference_over_many_commits() -> None:
    rng = random.Random(0x5EED)
    universe = _universe()
    store: dict[bytes, bytes] = {}
    tree: dict[bytes, bytes] = {}
    root = EMPTY_HASH
    batches = 0
    for _ in range(150):
        native = TreeUpdater(store.__getitem__)
        reference = smt_reference.TreeUpdater(store.__getitem__)
        for _ in range(rng.choice([1, 1, 1, 2, 3, 5])):
            updates = _random_batch(rng, universe)
            new_root = reference.apply(root, updates)
            assert native.apply(root, updates) == new_root
            root = new_root
            for path, vhash in updates:
                if vhash is None:
                    tree.pop(path, None)
                else:
                    tree[path] = vhash
            batches += 1
        assert native.applies == reference.applies
        assert list(native.new_nodes.items()) == list(reference.new_nodes.items())
        written, deleted = native.committable_nodes(root)
        expected_written, expected_deleted = reference.committable_nodes(root)
        assert written == expected_written
        assert deleted == sorted(set(expected_deleted))
        # Like LevelDB's: a node created and replaced between two commits was never stored.
        for node in deleted:
            store.pop(node, None)
        store.update(written)
        # The commits keep exactly the current tree: nothing missing, nothing left behind.
        assert set(store) == _reachable(root, store)
    assert batches > 200
    fresh = TreeUpdater(_no_nodes)
    assert fresh.apply(EMPTY_HASH, sorted(tree.items())) == root


def test_an_empty_batch_returns_the_root_and_is_not_an_apply() -> None:
    updater = TreeUpdater(_no_nodes)
    root = updater.apply(EMPTY_HASH, [(PATH, VALUES[0])])
    assert updater.apply(root, []) == root
    assert updater.applies == 1


def test_a_node_missing_from_the_store_raises_missing_node_error_with_its_hash() -> None:
    root = bytes(range(32))
    with pytest.raises(MissingNodeError) as raised:
        TreeUpdater(_no_nodes).apply(root, [(PATH, VALUES[0])])
    assert raised.value.args == (root.hex(),)


def test_other_errors_of_load_propagate_unchanged() -> None:
    def load(node: bytes) -> bytes:
        raise OSError("disk")

    with pytest.raises(OSError, match="disk"):
        TreeUpdater(load).apply(bytes(range(32)), [(PATH, VALUES[0])])


@pytest.mark.parametrize("root, updates", [
    (bytes(31), [(PATH, VALUES[0])]),
    (EMPTY_HASH, [(PATH + b"x", VALUES[0])]),
    (EMPTY_HASH, [(PATH, VALUES[0][:31])]),
    (EMPTY_HASH, [(PATH, VALUES[0]), (PATH, None)]),
    (EMPTY_HASH, sorted([(key_path(b"a"), VALUES[0]), (key_path(b"b"), VALUES[0])], reverse=True)),
], ids=["short root", "long path", "short value hash", "repeated path", "unsorted paths"])
def test_malformed_updates_are_rejected(root: bytes, updates: list[Update]) -> None:
    with pytest.raises(ValueError):
        TreeUpdater(_no_nodes).apply(root, updates)


@pytest.mark.parametrize("record", [b"\x01" + bytes(63), b"\x02" + bytes(64)], ids=["64 bytes", "bad tag"])
def test_malformed_stored_records_are_rejected(record: bytes) -> None:
    root = bytes(range(32))
    with pytest.raises(ValueError, match=root.hex()):
        TreeUpdater({root: record}.__getitem__).apply(root, [(PATH, VALUES[0])])


def test_a_short_root_for_commit_is_rejected() -> None:
    with pytest.raises(ValueError):
        TreeUpdater(_no_nodes).committable_nodes(bytes(31))


class _Holder:
    """Reads its tree with its own method, like a Store: holder -> updater -> holder.load."""

    def __init__(self) -> None:
        self.updater = TreeUpdater(self.load)

    def load(self, node: bytes) -> bytes:
        raise KeyError(node)


def test_an_updater_in_a_reference_cycle_is_garbage_collected() -> None:
    holder = _Holder()
    collected = weakref.ref(holder)
    del holder
    gc.collect()
    assert collected() is None


def test_apply_values_hashes_keys_and_values_as_the_proof_rules_say() -> None:
    """`apply_values` over (key, value) pairs in any order = `apply` over the sorted
    (key_path, value_hash) updates, deletions included; a key given twice is refused."""
    rng = random.Random(7)
    keys = [rng.randbytes(rng.randrange(1, 40)) for _ in range(300)]
    by_values, by_updates = TreeUpdater(_no_nodes), TreeUpdater(_no_nodes)
    root_values = root_updates = EMPTY_HASH
    for batch in (keys[:200], keys[100:]):
        items = [(key, None if rng.random() < 0.2 else rng.randbytes(8)) for key in batch]
        root_values = by_values.apply_values(root_values, items)
        root_updates = by_updates.apply(root_updates, sorted(
            (key_path(key), None if value is None else value_hash(value)) for key, value in items))
        assert root_values == root_updates
    assert by_values.new_nodes == by_updates.new_nodes
    with pytest.raises(ValueError, match="twice"):
        TreeUpdater(_no_nodes).apply_values(EMPTY_HASH, [(b"k", b"1"), (b"k", b"2")])
