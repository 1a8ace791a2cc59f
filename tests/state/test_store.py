"""Store and WorkingState: staging, transactions, iteration, commit atomicity, restart."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import plyvel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state.keys import LEGACY_NODE_PREFIX, STORE_META_APP_HASH, store_value_key
from state.proof import EMPTY_HASH, verify
from state.store import StaleWorkingStateError, Store, StoreCorruptError


@pytest.fixture
def store(tmp_path: Path):
    opened = Store(str(tmp_path / "db"))
    yield opened
    opened.close()


def _commit(store: Store, height: int, writes: dict[bytes, bytes | None]) -> bytes:
    ws = store.working()
    for key, value in sorted(writes.items()):
        if value is None:
            ws.delete(key)
        else:
            ws.set(key, value)
    return store.commit(ws, height)


def test_fresh_store_is_empty_at_height_zero(store: Store) -> None:
    assert store.last_height == 0
    assert store.last_app_hash == EMPTY_HASH
    assert store.working().app_hash() == EMPTY_HASH
    assert store.get(b"k") is None


def test_working_state_reads_its_own_writes_over_committed_values(store: Store) -> None:
    _commit(store, 1, {b"a": b"1", b"b": b"2"})
    ws = store.working()
    ws.set(b"a", b"10")
    ws.delete(b"b")
    ws.set(b"c", b"3")
    assert (ws.get(b"a"), ws.get(b"b"), ws.get(b"c")) == (b"10", None, b"3")
    assert (store.get(b"a"), store.get(b"b"), store.get(b"c")) == (b"1", b"2", None)


def test_commit_returns_app_hash_and_advances_height(store: Store) -> None:
    ws = store.working()
    ws.set(b"k", b"v")
    expected = ws.app_hash()
    assert store.commit(ws, 1) == expected
    assert (store.last_height, store.last_app_hash, store.get(b"k")) == (1, expected, b"v")


def test_commit_height_must_increase(store: Store) -> None:
    _commit(store, 5, {b"k": b"v"})
    with pytest.raises(ValueError):
        store.commit(store.working(), 5)


def test_working_states_are_stale_after_a_commit(store: Store) -> None:
    block = store.working()
    check = store.working()
    block.set(b"k", b"v")
    store.commit(block, 1)
    for stale in (block, check):
        with pytest.raises(StaleWorkingStateError):
            stale.get(b"k")
        with pytest.raises(StaleWorkingStateError):
            stale.set(b"k", b"w")
        with pytest.raises(StaleWorkingStateError):
            stale.app_hash()
    assert store.working().get(b"k") == b"v"


def test_app_hash_is_cached_until_the_next_write(store: Store) -> None:
    ws = store.working()
    ws.set(b"a", b"1")
    first = ws.app_hash()
    assert ws.app_hash() == first
    ws.set(b"b", b"2")
    second = ws.app_hash()
    assert second != first
    ws.delete(b"b")
    assert ws.app_hash() == first


def test_root_is_the_same_however_writes_are_split_across_blocks(tmp_path: Path) -> None:
    writes = {bytes([i, j]): bytes([i ^ j]) for i in range(20) for j in range(20)}
    one = Store(str(tmp_path / "one"))
    many = Store(str(tmp_path / "many"))
    try:
        _commit(one, 1, writes)
        ordered = sorted(writes.items())
        for height, start in enumerate(range(0, len(ordered), 37), start=1):
            ws = many.working()
            for key, value in reversed(ordered[start : start + 37]):
                ws.set(key, value)
                ws.app_hash()  # intermediate hashing must not change the result
            many.commit(ws, height)
        assert one.last_app_hash == many.last_app_hash
    finally:
        one.close()
        many.close()


def test_deleting_what_a_block_added_restores_the_previous_root(store: Store) -> None:
    before = _commit(store, 1, {b"a": b"1", b"b": b"2"})
    _commit(store, 2, {b"c": b"3", b"a": b"changed"})
    assert _commit(store, 3, {b"c": None, b"a": b"1"}) == before


def test_transaction_rolls_back_all_writes_when_the_block_raises(store: Store) -> None:
    _commit(store, 1, {b"a": b"1", b"b": b"2"})
    ws = store.working()
    ws.set(b"a", b"staged")
    root_before = ws.app_hash()
    with pytest.raises(RuntimeError, match="boom"):
        with ws.transaction():
            ws.set(b"a", b"inside")
            ws.delete(b"b")
            ws.set(b"c", b"new")
            ws.app_hash()
            raise RuntimeError("boom")
    assert (ws.get(b"a"), ws.get(b"b"), ws.get(b"c")) == (b"staged", b"2", None)
    assert ws.app_hash() == root_before
    assert list(ws.iterate()) == [(b"a", b"staged"), (b"b", b"2")]


def test_nested_transaction_rollback_keeps_the_outer_writes(store: Store) -> None:
    ws = store.working()
    with ws.transaction():
        ws.set(b"outer", b"1")
        with pytest.raises(KeyError):
            with ws.transaction():
                ws.set(b"inner", b"2")
                ws.set(b"outer", b"overwritten")
                raise KeyError("inner fails")
        assert (ws.get(b"outer"), ws.get(b"inner")) == (b"1", None)
    assert ws.get(b"outer") == b"1"


def test_outer_rollback_undoes_a_committed_inner_transaction(store: Store) -> None:
    ws = store.working()
    ws.set(b"keep", b"0")
    expected = ws.app_hash()
    with pytest.raises(ValueError):
        with ws.transaction():
            with ws.transaction():
                ws.set(b"inner", b"2")
                ws.delete(b"keep")
            raise ValueError("outer fails")
    assert (ws.get(b"inner"), ws.get(b"keep")) == (None, b"0")
    assert ws.app_hash() == expected


def test_iterate_merges_staged_and_committed_in_key_order(store: Store) -> None:
    _commit(store, 1, {b"p/1": b"c1", b"p/3": b"c3", b"p/5": b"c5", b"q/1": b"other"})
    ws = store.working()
    ws.set(b"p/0", b"s0")
    ws.set(b"p/3", b"s3")
    ws.delete(b"p/5")
    ws.set(b"p/9", b"s9")
    ws.delete(b"p/7")
    assert list(ws.iterate(b"p/")) == [(b"p/0", b"s0"), (b"p/1", b"c1"), (b"p/3", b"s3"), (b"p/9", b"s9")]
    assert [key for key, _ in ws.iterate()] == [b"p/0", b"p/1", b"p/3", b"p/9", b"q/1"]


@settings(max_examples=40, deadline=None)
@given(
    committed=st.dictionaries(st.binary(max_size=3), st.binary(max_size=3), max_size=20),
    staged=st.dictionaries(st.binary(max_size=3), st.none() | st.binary(max_size=3), max_size=20),
    prefix=st.binary(max_size=1),
)
def test_iterate_equals_the_merged_dictionary(tmp_path_factory, committed, staged, prefix) -> None:
    store = Store(str(tmp_path_factory.mktemp("db")))
    try:
        _commit(store, 1, dict(committed))
        ws = store.working()
        model = dict(committed)
        for key, value in staged.items():
            if value is None:
                ws.delete(key)
                model.pop(key, None)
            else:
                ws.set(key, value)
                model[key] = value
        assert list(ws.iterate(prefix)) == sorted((k, v) for k, v in model.items() if k.startswith(prefix))
    finally:
        store.close()


def test_an_overlay_reads_through_its_base_and_keeps_its_writes_to_itself(store: Store) -> None:
    _commit(store, 1, {b"p/1": b"c1", b"p/2": b"c2", b"p/3": b"c3"})
    base = store.working()
    base.set(b"p/2", b"b2")
    base.delete(b"p/3")
    over = base.overlay()
    base.set(b"p/4", b"b4")  # the overlay sees the base as it is now
    over.set(b"p/1", b"o1")
    over.delete(b"p/4")
    over.set(b"p/5", b"o5")
    with pytest.raises(RuntimeError), over.transaction():
        over.set(b"p/2", b"rolled back")
        raise RuntimeError
    assert [over.get(k) for k in (b"p/1", b"p/2", b"p/3", b"p/4", b"p/5")] == [
        b"o1", b"b2", None, None, b"o5"]
    assert list(over.iterate(b"p/")) == [(b"p/1", b"o1"), (b"p/2", b"b2"), (b"p/5", b"o5")]
    assert [base.get(k) for k in (b"p/1", b"p/4", b"p/5")] == [b"c1", b"b4", None]


def test_an_overlay_has_no_app_hash_and_cannot_be_committed(store: Store) -> None:
    over = store.working().overlay()
    with pytest.raises(TypeError):
        over.app_hash()
    with pytest.raises(TypeError):
        store.commit(over, 1)


def test_an_overlay_rebases_onto_the_commit_of_its_base_and_lives_on(store: Store) -> None:
    _commit(store, 1, {b"k/1": b"c1"})
    base = store.working()
    base.set(b"k/2", b"b2")
    over = base.overlay()
    over.set(b"k/3", b"o3")
    other = store.working().overlay()
    store.commit(base, 2)
    with pytest.raises(StaleWorkingStateError):
        over.get(b"k/1")
    with pytest.raises(ValueError):
        other.rebase()  # its base was not the one committed
    over.rebase()
    assert list(over.iterate(b"k/")) == [(b"k/1", b"c1"), (b"k/2", b"b2"), (b"k/3", b"o3")]
    over.set(b"k/1", b"o1")
    assert (over.get(b"k/1"), store.get(b"k/1")) == (b"o1", b"c1")
    # Now an ordinary working state of the committed store: its app hash is that of the
    # committed state plus its own writes.
    same = store.working()
    same.set(b"k/3", b"o3")
    same.set(b"k/1", b"o1")
    assert over.app_hash() == same.app_hash()
    _commit(store, 3, {})
    with pytest.raises(StaleWorkingStateError):
        over.get(b"k/1")


def test_reopen_after_commit_gives_the_same_height_hash_and_values(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    store = Store(path)
    _commit(store, 1, {b"a": b"1", b"b": b"2"})
    root = _commit(store, 2, {b"b": None, b"c": b"3"})
    store.close()
    reopened = Store(path)
    try:
        assert (reopened.last_height, reopened.last_app_hash) == (2, root)
        assert list(reopened.working().iterate()) == [(b"a", b"1"), (b"c", b"3")]
        value, proof, height = reopened.prove(b"c")
        assert (value, height) == (b"3", 2)
        assert verify(root, b"c", value, proof)
        # Building on the reopened store continues from the same tree.
        ws = reopened.working()
        ws.set(b"d", b"4")
        assert reopened.commit(ws, 3) != root
    finally:
        reopened.close()


def test_dropping_a_working_state_leaves_the_committed_state_intact(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    store = Store(path)
    root = _commit(store, 1, {b"a": b"1"})
    ws = store.working()
    ws.set(b"a", b"lost")
    ws.set(b"b", b"lost")
    ws.app_hash()
    del ws
    store.close()
    reopened = Store(path)
    try:
        assert (reopened.last_height, reopened.last_app_hash) == (1, root)
        assert (reopened.get(b"a"), reopened.get(b"b")) == (b"1", None)
    finally:
        reopened.close()


_CRASHING_COMMIT = textwrap.dedent(
    """
    import os, sys
    from state.store import Store

    class CrashBeforeWrite(Store):
        def build_commit_batch(self, *args):
            super().build_commit_batch(*args)
            os._exit(17)  # the process dies with the batch built but never written

    store = CrashBeforeWrite(sys.argv[1])
    ws = store.working()
    ws.set(b"a", b"2")
    ws.set(b"new", b"x")
    store.commit(ws, 2)
    """
)


def test_crash_between_building_and_writing_the_batch_keeps_the_previous_commit(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    store = Store(path)
    root = _commit(store, 1, {b"a": b"1"})
    nodes = store.node_count()
    store.close()
    crashed = subprocess.run([sys.executable, "-c", _CRASHING_COMMIT, path], check=False)
    assert crashed.returncode == 17
    reopened = Store(path)
    try:
        assert (reopened.last_height, reopened.last_app_hash) == (1, root)
        assert (reopened.get(b"a"), reopened.get(b"new")) == (b"1", None)
        assert reopened.node_count() == nodes
    finally:
        reopened.close()


def test_commit_writes_exactly_one_synced_batch(store: Store) -> None:
    _commit(store, 1, {b"a": b"1"})
    calls: list[str] = []
    real_db = store._db

    class RecordingDB:
        """Pass-through to the real LevelDB that records every write entry point used."""

        def __getattr__(self, name: str):
            if name in ("put", "delete", "write_batch"):
                calls.append(name)
            return getattr(real_db, name)

        def write_batch(self, **options):
            calls.append(f"write_batch(sync={options.get('sync')})")
            return real_db.write_batch(**options)

    store._db = RecordingDB()  # type: ignore[assignment]
    try:
        _commit(store, 2, {b"a": b"2", b"b": b"3"})
    finally:
        store._db = real_db
    assert calls == ["write_batch(sync=True)"]
    assert (store.get(b"a"), store.get(b"b"), store.last_height) == (b"2", b"3", 2)


def test_set_rejects_non_bytes(store: Store) -> None:
    ws = store.working()
    with pytest.raises(TypeError):
        ws.set("k", b"v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ws.set(b"k", 1)  # type: ignore[arg-type]


def _reachable_nodes(store: Store) -> set[bytes]:
    """Hashes of every node reachable from the committed root, read through the store."""
    seen: set[bytes] = set()
    stack = [store.last_app_hash]
    while stack:
        node = stack.pop()
        if node == EMPTY_HASH:
            continue
        seen.add(node)
        record = store.load_node(node)
        if record[0] == 1:
            stack.extend((record[1:33], record[33:65]))
    return seen


block_ops = st.lists(
    st.tuples(st.sampled_from(["set", "delete", "hash", "failed_tx"]), st.binary(max_size=2), st.binary(max_size=2)),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(blocks=st.lists(block_ops, min_size=1, max_size=5))
def test_the_node_map_holds_exactly_the_committed_tree_and_a_reopened_store_rebuilds_it(
        tmp_path_factory, blocks) -> None:
    path = str(tmp_path_factory.mktemp("db"))
    store = Store(path)
    model: dict[bytes, bytes] = {}
    try:
        for height, ops in enumerate(blocks, start=1):
            ws = store.working()
            staged = dict(model)
            for op, key, value in ops:
                if op == "set":
                    ws.set(key, value)
                    staged[key] = value
                elif op == "delete":
                    ws.delete(key)
                    staged.pop(key, None)
                elif op == "hash":
                    ws.app_hash()
                else:
                    with pytest.raises(ZeroDivisionError), ws.transaction():
                        ws.set(key, value)
                        ws.delete(value)
                        ws.app_hash()
                        raise ZeroDivisionError
            store.commit(ws, height)
            model = staged
            reachable = _reachable_nodes(store)
            assert store.node_count() == len(reachable)  # no node of an older tree is left
        for key, value in model.items():
            got, proof, _ = store.prove(key)
            assert got == value and verify(store.last_app_hash, key, value, proof)
        root = store.last_app_hash
    finally:
        store.close()
    reopened = Store(path)
    try:
        assert reopened.last_app_hash == root
        assert _reachable_nodes(reopened) == reachable and reopened.node_count() == len(reachable)
    finally:
        reopened.close()
    reference = Store(str(tmp_path_factory.mktemp("ref")))
    try:
        assert _commit(reference, 1, dict(model)) == root
    finally:
        reference.close()


def test_a_store_whose_values_do_not_hash_to_its_app_hash_refuses_to_open(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    store = Store(path)
    _commit(store, 1, {b"a": b"1", b"b": b"2"})
    store.close()
    db = plyvel.DB(path)
    db.put(store_value_key(b"a"), b"tampered")
    db.close()
    with pytest.raises(StoreCorruptError, match="hash to"):
        Store(path)


def test_node_records_of_the_old_on_disk_layout_are_deleted_on_open(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    store = Store(path)
    root = _commit(store, 1, {b"a": b"1"})
    store.close()
    db = plyvel.DB(path)
    db.put(LEGACY_NODE_PREFIX + bytes(32), b"\x01" + bytes(64))
    assert db.get(STORE_META_APP_HASH) == root
    db.close()
    reopened = Store(path)
    reopened.close()
    db = plyvel.DB(path)
    try:
        assert list(db.iterator(prefix=LEGACY_NODE_PREFIX)) == []
    finally:
        db.close()


@settings(max_examples=30, deadline=None)
@given(blocks=st.lists(st.dictionaries(st.binary(min_size=1, max_size=2),
                                       st.one_of(st.none(), st.binary(min_size=1, max_size=3)),
                                       max_size=12), min_size=1, max_size=6),
       reads=st.lists(st.binary(min_size=1, max_size=2), max_size=20))
def test_the_value_cache_never_serves_a_stale_value(tmp_path_factory, blocks, reads) -> None:
    """Reads before and after each commit, through a 4-entry cache that overflows: every
    committed read equals the database's value and the model's, and a reopened store agrees."""
    path = tmp_path_factory.mktemp("vc")
    store = Store(str(path), value_cache_size=4)
    model: dict[bytes, bytes] = {}
    try:
        for height, writes in enumerate(blocks, start=1):
            for key in reads + list(writes):
                assert store.get(key) == model.get(key)
            _commit(store, height, writes)
            for key, value in writes.items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
            for key in reads + list(writes):
                assert store.get(key) == model.get(key)
    finally:
        store.close()
    reopened = Store(str(path))
    try:
        assert all(reopened.get(key) == value for key, value in model.items())
    finally:
        reopened.close()


iterate_ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "delete", "iterate", "failed_tx"]), st.binary(max_size=2), st.binary(max_size=2)
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(committed=st.dictionaries(st.binary(max_size=2), st.binary(max_size=2), max_size=10), ops=iterate_ops)
def test_iterate_stays_correct_between_writes_and_rollbacks(tmp_path_factory, committed, ops) -> None:
    store = Store(str(tmp_path_factory.mktemp("db")))
    try:
        _commit(store, 1, dict(committed))
        ws = store.working()
        model = dict(committed)
        for op, key, value in ops:
            if op == "set":
                ws.set(key, value)
                model[key] = value
            elif op == "delete":
                ws.delete(key)
                model.pop(key, None)
            elif op == "iterate":
                prefix = key[:1]
                expected = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
                assert list(ws.iterate(prefix)) == expected
            else:
                with pytest.raises(LookupError), ws.transaction():
                    ws.set(key, value)
                    ws.set(value + b"\xff", key)
                    list(ws.iterate())
                    raise LookupError
        assert list(ws.iterate()) == sorted(model.items())
    finally:
        store.close()
