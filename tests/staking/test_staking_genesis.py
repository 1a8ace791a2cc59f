"""Staking in genesis: the app_state section round-trips, bad entries are numbered genesis
errors, genesis delegations back validators, and a set that would go empty is kept."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest

from chain.address import parse_address
from genesis.presets import localnet_app_genesis
from genesis.schema import AppGenesis, GenesisDelegation
from genesis.validators import localnet_staking_params, with_genesis_validators
from state.errors import GenesisError, GenesisInvalidValidator
from state.params import Params
from state.staking import get_delegation_tokens, get_validator
from state.validators import consensus_address
from tests.staking.driver import Chain, address, cons_pub

OPT = 10**6


def test_staking_section_round_trips_through_json() -> None:
    genesis = with_genesis_validators(localnet_app_genesis([address(0), address(1)]),
                                      [(address(0), cons_pub(0))], self_bond=5 * OPT,
                                      monikers=["zero"])
    obj = genesis.to_json()
    assert obj["staking"]["validators"][0] == {
        "operator": address(0), "pub_key": base64.b64encode(cons_pub(0)).decode(),
        "self_bond": str(5 * OPT), "commission_ppm": "50000", "moniker": "zero"}
    assert AppGenesis.from_json(obj) == genesis
    assert "staking" not in localnet_app_genesis([address(0)]).to_json()


@pytest.mark.parametrize(("mutate", "where"), [
    (lambda v: v.update(pub_key=base64.b64encode(b"x" * 31).decode()), "pub_key"),
    (lambda v: v.update(self_bond="0"), "self_bond"),
    (lambda v: v.update(commission_ppm="1000001"), "commission_ppm"),
    (lambda v: v.update(operator="optio1nothing"), "operator"),
])
def test_bad_genesis_validator_is_rejected_with_its_path(mutate, where) -> None:  # type: ignore[no-untyped-def]
    obj = with_genesis_validators(localnet_app_genesis([address(0)]),
                                  [(address(0), cons_pub(0))]).to_json()
    mutate(obj["staking"]["validators"][0])
    with pytest.raises(GenesisInvalidValidator) as exc:
        AppGenesis.from_json(obj)
    assert exc.value.code == 68 and where in exc.value.path


def test_unknown_staking_field_is_a_genesis_error() -> None:
    with pytest.raises(GenesisError):
        AppGenesis.from_json({"staking": {"validators": [], "pools": []}})


def test_genesis_delegations_back_their_validator(tmp_path: Path) -> None:
    base = with_genesis_validators(localnet_app_genesis([address(i) for i in range(4)]),
                                   [(address(0), cons_pub(0))], self_bond=10 * OPT)
    genesis = replace(base, staking=replace(base.staking, delegations=(
        GenesisDelegation(address(3), address(0), 7 * OPT),)))
    chain = Chain(tmp_path / "g", app_genesis=genesis)
    try:
        assert [(u.pub_key.ed25519, u.power) for u in chain.init.validators] == [
            (cons_pub(0), 17)]
        assert get_delegation_tokens(chain.ws, parse_address(address(3)),
                                     parse_address(address(0))) == 7 * OPT
        chain.run(2)
    finally:
        chain.close()


def test_jailing_the_only_validator_keeps_the_set_instead_of_emptying_it(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "solo", validators=1,
                  params=replace(Params(), signed_blocks_window=3))
    try:
        chain.block()
        chain.block([chain.staking(0, "undelegate", delegator_address=address(0),
                                   validator_address=address(0), amount=100 * OPT)])
        record = get_validator(chain.ws, parse_address(address(0)))
        assert record is not None and record.jailed
        assert not chain.last_response.validator_updates
        assert [v.address for v in chain.validator_set(chain.height + 2)] == [
            consensus_address(cons_pub(0))]
        chain.run(3)
    finally:
        chain.close()


def test_localnet_staking_params_shorten_the_periods() -> None:
    params = localnet_staking_params()
    assert params.unbonding_time_s == 20 and params.max_validators == 4
