"""Staking driven through the real app block by block (in-process): genesis validators,
joining and leaving the set, unbonding maturity, evidence, downtime, rewards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from abci.proto import abci_pb2
from chain.address import parse_address
from state.accounts import get_balance, get_fee_pool, get_supply
from state.params import Params
from state.staking import (
    BONDED,
    REWARDS_POOL_ID,
    UNBONDING,
    get_delegation_tokens,
    get_pending_rewards,
    get_unbonding_entries_of,
    get_validator,
)
from state.validators import consensus_address
from tests.staking.driver import SECOND, Chain, address, cons_pub

PARAMS = replace(Params(), unbonding_time_s=60, signed_blocks_window=10,
                 min_signed_per_window_ppm=500_000, downtime_jail_duration_s=30,
                 max_validators=3, inflation_uopt_per_block=1_000_000)
OPT = 10**6


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    made = Chain(tmp_path / "node", params=PARAMS)
    yield made
    made.close()


def operator(i: int) -> bytes:
    return parse_address(address(i))


def powers(chain: Chain, height: int) -> dict[bytes, int]:
    return {v.address: v.power for v in chain.validator_set(height)}


def test_init_chain_bonds_genesis_validators_and_returns_their_set(chain: Chain) -> None:
    returned = {(u.pub_key.ed25519, u.power) for u in chain.init.validators}
    assert returned == {(cons_pub(i), 100) for i in range(3)}
    assert powers(chain, 1) == powers(chain, 2) == {consensus_address(cons_pub(i)): 100
                                                    for i in range(3)}
    record = get_validator(chain.ws, operator(0))
    assert record is not None and record.status == BONDED and record.tokens == 100 * OPT


def test_fixed_genesis_validators_are_kept_and_earn_nothing(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "fixed", params=PARAMS, fixed=True)
    try:
        supply = get_supply(chain.ws, "uopt")
        chain.block([chain.send(4, address(5), 1000)])
        chain.run(3)
        assert chain.last_response is not None and not chain.last_response.validator_updates
        assert len(chain.validator_set(chain.height + 2)) == 3
        assert get_supply(chain.ws, "uopt") == supply  # no inflation without staked signers
        assert get_fee_pool(chain.ws, "uusd") == 100
    finally:
        chain.close()


def test_create_validator_joins_the_set_two_blocks_later(tmp_path: Path) -> None:
    chain = Chain(tmp_path / "n", params=replace(PARAMS, max_validators=4))
    try:
        chain.block()
        raw = chain.staking(3, "create_validator", operator_address=address(3),
                            consensus_pub_key=cons_pub(3), commission_ppm=100_000,
                            moniker="newcomer", self_bond=50 * OPT)
        assert chain.check(raw).code == 0
        response = chain.block([raw])
        assert response.tx_results[0].code == 0, response.tx_results[0].log
        h = chain.height
        assert [(u.pub_key.ed25519, u.power) for u in response.validator_updates] == [
            (cons_pub(3), 50)]
        new = consensus_address(cons_pub(3))
        assert new not in powers(chain, h + 1) and powers(chain, h + 2)[new] == 50
        chain.block()
        assert not chain.last_response.validator_updates  # reported once only
    finally:
        chain.close()


def test_delegation_moves_a_validator_into_the_set_and_pushes_the_weakest_out(
    chain: Chain,
) -> None:
    chain.block([chain.staking(3, "create_validator", operator_address=address(3),
                               consensus_pub_key=cons_pub(3), commission_ppm=0,
                               moniker="challenger", self_bond=10 * OPT)])
    assert consensus_address(cons_pub(3)) not in powers(chain, chain.height + 2)
    response = chain.block([chain.staking(4, "delegate", delegator_address=address(4),
                                          validator_address=address(3), amount=200 * OPT)])
    updates = {u.pub_key.ed25519: u.power for u in response.validator_updates}
    # Equal powers 100/100/100: the highest consensus address of the three drops out.
    leaving = max((consensus_address(cons_pub(i)), i) for i in range(3))[1]
    assert updates == {cons_pub(3): 210, cons_pub(leaving): 0}
    record = get_validator(chain.ws, operator(leaving))
    assert record is not None and record.status == UNBONDING


def test_undelegated_tokens_are_paid_only_after_the_unbonding_time(chain: Chain) -> None:
    chain.block([chain.staking(4, "delegate", delegator_address=address(4),
                               validator_address=address(0), amount=10 * OPT)])
    chain.block([chain.staking(4, "undelegate", delegator_address=address(4),
                               validator_address=address(0), amount=4 * OPT)])
    before = get_balance(chain.ws, address(4), "uopt")  # rewards settled by the undelegation
    (entry,) = get_unbonding_entries_of(chain.ws, operator(4))
    assert entry.balance == 4 * OPT
    chain.run(10, seconds=5)  # 50 s of block time < 60 s
    assert get_balance(chain.ws, address(4), "uopt") == before
    chain.run(3, seconds=5)
    assert get_balance(chain.ws, address(4), "uopt") == before + 4 * OPT
    assert get_unbonding_entries_of(chain.ws, operator(4)) == ()


def _double_sign(chain: Chain, i: int, height: int) -> abci_pb2.Misbehavior:
    return abci_pb2.Misbehavior(
        type=abci_pb2.DUPLICATE_VOTE, height=height, total_voting_power=300,
        validator=abci_pb2.Validator(address=consensus_address(cons_pub(i)), power=100))


def test_double_sign_evidence_slashes_tombstones_and_removes_the_validator(
    chain: Chain,
) -> None:
    chain.run(2)
    supply = get_supply(chain.ws, "uopt")
    response = chain.block(misbehavior=[_double_sign(chain, 1, chain.height)])
    record = get_validator(chain.ws, operator(1))
    assert record is not None and record.tombstoned and record.jailed
    assert record.tokens == 95 * OPT  # 5% of 100 OPT burnt
    assert [(u.pub_key.ed25519, u.power) for u in response.validator_updates] == [
        (cons_pub(1), 0)]
    minted = PARAMS.inflation_uopt_per_block
    assert get_supply(chain.ws, "uopt") == supply + minted - 5 * OPT
    # Evidence for the same validator again changes nothing.
    chain.block(misbehavior=[_double_sign(chain, 1, chain.height - 1)])
    assert get_validator(chain.ws, operator(1)).tokens == 95 * OPT  # type: ignore[union-attr]
    refused = chain.check(chain.staking(1, "unjail", validator_address=address(1)))
    assert refused.code == 50


def test_unbonding_created_after_the_infraction_is_slashed_too(chain: Chain) -> None:
    chain.block([chain.staking(4, "delegate", delegator_address=address(4),
                               validator_address=address(2), amount=100 * OPT)])
    infraction = chain.height + 1
    chain.block()
    chain.block([chain.staking(4, "undelegate", delegator_address=address(4),
                               validator_address=address(2), amount=40 * OPT)])
    chain.block(misbehavior=[abci_pb2.Misbehavior(
        type=abci_pb2.DUPLICATE_VOTE, height=infraction, total_voting_power=400,
        validator=abci_pb2.Validator(address=consensus_address(cons_pub(2)), power=200))])
    (entry,) = get_unbonding_entries_of(chain.ws, operator(4))
    assert entry.balance == 38 * OPT  # 5% of the 40 OPT that left after the infraction
    # The rest of the 10 OPT slash (5% of 200 OPT) came from the validator's tokens.
    assert get_validator(chain.ws, operator(2)).tokens == 160 * OPT - 8 * OPT  # type: ignore[union-attr]
    # Delegator and operator lose the same proportion: 60/160 and 100/160 of 152 OPT.
    assert get_delegation_tokens(chain.ws, operator(4), operator(2)) == 57 * OPT
    assert get_delegation_tokens(chain.ws, operator(2), operator(2)) == 95 * OPT


def test_downtime_slashes_and_jails_then_unjail_after_the_jail_period(chain: Chain) -> None:
    chain.run(2)
    down = consensus_address(cons_pub(2))
    chain.absent.add(down)
    jailed_at = None
    for _ in range(15):
        chain.block()
        record = get_validator(chain.ws, operator(2))
        if record is not None and record.jailed:
            jailed_at = chain.height
            break
    assert jailed_at is not None and record is not None
    assert record.tokens == 100 * OPT - 10_000  # 0.01% of 100 OPT
    assert {u.pub_key.ed25519: u.power for u in chain.last_response.validator_updates} == {
        cons_pub(2): 0}
    chain.absent.clear()
    early = chain.check(chain.staking(2, "unjail", validator_address=address(2)))
    assert early.code == 52
    chain.run(7, seconds=5)
    unjail = chain.block([chain.staking(2, "unjail", validator_address=address(2))])
    assert unjail.tx_results[0].code == 0, unjail.tx_results[0].log
    assert {u.pub_key.ed25519: u.power for u in unjail.validator_updates} == {cons_pub(2): 99}


def test_signers_earn_inflation_and_fees_and_withdraw_them(chain: Chain) -> None:
    chain.block([chain.staking(4, "delegate", delegator_address=address(4),
                               validator_address=address(0), amount=100 * OPT)])
    chain.block([chain.send(5, address(5), 1)])  # a fee of 100 uusd
    chain.block(proposer=consensus_address(cons_pub(0)))
    pending = dict((c.denom, c.amount) for c in get_pending_rewards(chain.ws, operator(4),
                                                                    operator(0)))
    assert pending["uopt"] > 0 and pending.get("uusd", 0) > 0
    before = get_balance(chain.ws, address(4), "uopt")
    fee_before = get_balance(chain.ws, address(4), "uusd")
    response = chain.block([chain.staking(4, "withdraw_rewards", delegator_address=address(4),
                                          validator_address=address(0))])
    assert response.tx_results[0].code == 0
    gained = get_balance(chain.ws, address(4), "uopt") - before
    assert gained >= pending["uopt"]
    assert get_balance(chain.ws, address(4), "uusd") - fee_before + 100 >= pending["uusd"]
    # The operator's commission (5%) is paid with its own withdrawal.
    op_before = get_balance(chain.ws, address(0), "uopt")
    chain.block([chain.staking(0, "withdraw_rewards", delegator_address=address(0),
                               validator_address=address(0))])
    assert get_balance(chain.ws, address(0), "uopt") > op_before
    assert get_balance(chain.ws, REWARDS_POOL_ID, "uopt") >= 0


def test_redelegation_after_the_infraction_is_slashed_at_its_destination(chain: Chain) -> None:
    chain.block([chain.staking(4, "delegate", delegator_address=address(4),
                               validator_address=address(0), amount=100 * OPT)])
    infraction = chain.height + 1
    chain.block()
    chain.block([chain.staking(4, "redelegate", delegator_address=address(4),
                               src_validator_address=address(0),
                               dst_validator_address=address(1), amount=40 * OPT)])
    chain.block(misbehavior=[abci_pb2.Misbehavior(
        type=abci_pb2.DUPLICATE_VOTE, height=infraction, total_voting_power=400,
        validator=abci_pb2.Validator(address=consensus_address(cons_pub(0)), power=200))])
    # 5% of the 40 OPT that moved after the infraction is burnt at the destination...
    assert get_delegation_tokens(chain.ws, operator(4), operator(1)) == 38 * OPT
    assert get_validator(chain.ws, operator(1)).tokens == 138 * OPT  # type: ignore[union-attr]
    # ...and the source covers the rest of 5% × 200 OPT.
    assert get_validator(chain.ws, operator(0)).tokens == 160 * OPT - 8 * OPT  # type: ignore[union-attr]


def test_fees_collected_in_a_block_go_to_the_signers_of_the_next(chain: Chain) -> None:
    chain.block([chain.send(5, address(4), 1), chain.send(4, address(5), 1)])
    assert get_fee_pool(chain.ws, "uusd") == 200
    chain.block()
    assert get_fee_pool(chain.ws, "uusd") == 0
    assert get_balance(chain.ws, REWARDS_POOL_ID, "uusd") == 200
