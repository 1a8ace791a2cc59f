"""The VDF output of every block is stored per height as the randomness beacon; the VDF
parameters come from genesis with bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain import ordering
from genesis.schema import AppGenesis, GenesisError
from state import keys
from state.beacon import Beacon, get_beacon, process_beacon
from state.params import DEFAULT_PARAMS, param_problem
from state.store import Store
from tests.ordering.conftest import BITS, CHAIN_ID, PREV_APP_HASH, T, honest_block, user_txs, check


def _beacon_of_block(height: int) -> Beacon:
    block = honest_block(user_txs(3, tag=b"h%d" % height), height=height)
    order = check(block, height=height)
    return Beacon(height=height, seed=order.seed, y=order.output.y, iterations=order.iterations)


def test_beacon_is_stored_per_height_and_survives_commit(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    beacons = {h: _beacon_of_block(h) for h in (1, 2, 3)}
    for height, beacon in beacons.items():
        ws = store.working()
        process_beacon(ws, beacon)
        assert get_beacon(ws, height) == beacon
        store.commit(ws, height)
    ws = store.working()
    for height, beacon in beacons.items():
        assert get_beacon(ws, height) == beacon
        assert store.get(keys.beacon_key(height)) == beacon.encode()
    assert get_beacon(ws, 4) is None
    assert get_beacon(ws, 0) is None
    assert len({b.randomness for b in beacons.values()}) == 3
    store.close()


def test_beacon_output_verifies_against_its_seed() -> None:
    beacon = _beacon_of_block(5)
    assert beacon.seed == ordering.compute_block_seed(
        CHAIN_ID, 5, PREV_APP_HASH, user_txs(3, tag=b"h5"))
    assert len(beacon.randomness) == 32


def test_a_height_is_recorded_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    ws = store.working()
    beacon = _beacon_of_block(1)
    process_beacon(ws, beacon)
    with pytest.raises(RuntimeError):
        process_beacon(ws, beacon)
    store.close()


def test_beacon_record_round_trips_and_rejects_corruption() -> None:
    beacon = _beacon_of_block(9)
    assert Beacon.decode(9, beacon.encode()) == beacon
    with pytest.raises(ValueError):
        Beacon.decode(9, beacon.encode()[:-1])
    with pytest.raises(ValueError):
        Beacon.decode(9, b"\x02" + beacon.encode()[1:])


def test_vdf_params_have_genesis_defaults_and_bounds() -> None:
    assert DEFAULT_PARAMS.vdf_iterations >= 1
    assert DEFAULT_PARAMS.vdf_discriminant_bits == BITS
    assert ordering.vdf_params_problem(DEFAULT_PARAMS.vdf_iterations, BITS) is None
    assert param_problem("vdf_discriminant_bits", 1000) is not None
    assert param_problem("vdf_discriminant_bits", 2048) is not None
    assert param_problem("vdf_discriminant_bits", 256) is not None
    assert param_problem("vdf_iterations", 0) is not None
    assert param_problem("vdf_iterations", T) is None


def test_genesis_sets_and_checks_vdf_params() -> None:
    genesis = AppGenesis.from_json({"params": {"vdf_iterations": "12345",
                                               "vdf_discriminant_bits": "512"}})
    assert genesis.params.vdf_iterations == 12_345
    assert genesis.params.vdf_discriminant_bits == 512
    with pytest.raises(GenesisError):
        AppGenesis.from_json({"params": {"vdf_discriminant_bits": "1000"}})
    with pytest.raises(GenesisError):
        AppGenesis.from_json({"params": {"vdf_iterations": "0"}})
