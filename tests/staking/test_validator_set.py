"""The consensus set by height (state/validators.py): which heights are readable, that
FinalizeBlock(H)'s updates take effect at H+2, and the CometBFT ordering."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from state.params import Params
from state.validators import (
    Validator,
    apply_updates,
    consensus_address,
    decode_validator_set,
    encode_validator_set,
    get_total_power,
    get_validator_set,
    total_power,
)
from tests.staking.driver import Chain, address, cons_pub

OPT = 10**6


def test_consensus_address_is_the_first_20_bytes_of_sha256_of_the_key() -> None:
    key = cons_pub(0)
    assert consensus_address(key) == hashlib.sha256(key).digest()[:20]
    assert Validator.of(key, 5).address == consensus_address(key)


def test_sets_of_the_last_height_its_predecessor_and_the_next_two_are_readable(
    tmp_path: Path,
) -> None:
    chain = Chain(tmp_path / "n", params=replace(Params(), max_validators=4))
    try:
        assert len(get_validator_set(chain.ws, 1)) == len(get_validator_set(chain.ws, 2)) == 3
        chain.run(5)
        h = chain.height
        for height in (h - 1, h, h + 1, h + 2):
            assert get_total_power(chain.ws, height) == 300
        with pytest.raises(LookupError):
            get_validator_set(chain.ws, h - 2)
        with pytest.raises(LookupError):
            get_validator_set(chain.ws, h + 3)
    finally:
        chain.close()


def test_updates_of_block_h_take_effect_at_h_plus_2(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "n", params=replace(Params(), max_validators=4))
    try:
        chain.block()
        response = chain.block([chain.staking(
            3, "create_validator", operator_address=address(3), consensus_pub_key=cons_pub(3),
            commission_ppm=0, moniker="late", self_bond=30 * OPT)])
        h = chain.height
        assert len(response.validator_updates) == 1
        assert total_power(get_validator_set(chain.ws, h + 1)) == 300
        assert total_power(get_validator_set(chain.ws, h + 2)) == 330
        chain.run(2)
        assert total_power(get_validator_set(chain.ws, h + 2)) == 330
    finally:
        chain.close()


def test_sets_are_stored_in_cometbft_order_and_round_trip() -> None:
    validators = [Validator.of(cons_pub(i), p) for i, p in enumerate([5, 9, 5, 1])]
    decoded = decode_validator_set(encode_validator_set(validators))
    assert [v.power for v in decoded] == [9, 5, 5, 1]
    assert decoded[1].address < decoded[2].address
    assert set(decoded) == set(validators)


def test_power_zero_update_removes_and_positive_replaces() -> None:
    a, b = Validator.of(cons_pub(0), 5), Validator.of(cons_pub(1), 7)
    after = apply_updates([a, b], [replace(a, power=0), replace(b, power=9)])
    assert after == (replace(b, power=9),)
