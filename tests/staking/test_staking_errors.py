"""Every staking error code (40-59) is produced by a real transaction through CheckTx (or,
for the defensive ones, by the state function that raises it), with a readable message."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from abci.proto import abci_pb2
from chain.address import format_address, parse_address
from chain.proto import tx_pb2
from chain.tx import Delegate, build_staking_msg
from state.errors import DelegationTooSmall
from state.params import Params
from state.staking import STAKING_POOL_ID, ValidatorRecord, process_msg_delegate, set_validator
from state.validators import consensus_address
from tests.staking.driver import Chain, address, cons_pub

PARAMS = replace(Params(), max_entries=2, unbonding_time_s=60, max_validators=4,
                 slash_fraction_downtime_ppm=1_000_000, signed_blocks_window=4,
                 downtime_jail_duration_s=30)
OPT = 10**6


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    made = Chain(tmp_path / "node", params=PARAMS, validators=3, accounts=6)
    made.block()
    yield made
    made.close()


def create(chain: Chain, signer: int, **overrides: object) -> bytes:
    fields: dict[str, object] = dict(operator_address=address(signer),
                                     consensus_pub_key=cons_pub(signer), commission_ppm=0,
                                     moniker="v", self_bond=10 * OPT)
    fields.update(overrides)
    return chain.staking(signer, "create_validator", **fields)


def delegate(chain: Chain, signer: int, validator: int, amount: int) -> bytes:
    return chain.staking(signer, "delegate", delegator_address=address(signer),
                         validator_address=address(validator), amount=amount)


def undelegate(chain: Chain, signer: int, validator: int, amount: int) -> bytes:
    return chain.staking(signer, "undelegate", delegator_address=address(signer),
                         validator_address=address(validator), amount=amount)


def redelegate(chain: Chain, signer: int, src: int, dst: int, amount: int) -> bytes:
    return chain.staking(signer, "redelegate", delegator_address=address(signer),
                         src_validator_address=address(src),
                         dst_validator_address=address(dst), amount=amount)


def rejected(chain: Chain, raw: bytes, code: int) -> str:
    response = chain.check(raw)
    assert response.code == code, response.log
    assert response.codespace == "optio" and response.log
    return response.log


def ok(chain: Chain, raw: bytes) -> None:
    result = chain.block([raw]).tx_results[0]
    assert result.code == 0, result.log


def test_stateless_staking_errors(chain: Chain) -> None:
    assert "32-byte ed25519" in rejected(chain, create(chain, 3, consensus_pub_key=b"k" * 31), 40)
    assert "1000000" in rejected(chain, create(chain, 3, commission_ppm=1_000_001), 41)
    assert "empty" in rejected(chain, create(chain, 3, moniker=""), 42)
    assert "itself" in rejected(chain, redelegate(chain, 4, 0, 0, OPT), 43)
    usd = chain.staking(4, "delegate", delegator_address=address(4),
                        validator_address=address(0),
                        amount=tx_pb2.Coin(denom="uusd", amount="5"))
    assert "uopt" in rejected(chain, usd, 44)


def test_validator_lookup_and_creation_errors(chain: Chain) -> None:
    assert "no validator" in rejected(chain, delegate(chain, 4, 5, OPT), 45)
    assert "already operates" in rejected(chain, create(chain, 0, consensus_pub_key=cons_pub(9)), 46)
    assert "already used" in rejected(chain, create(chain, 3, consensus_pub_key=cons_pub(0)), 47)
    assert "below the minimum" in rejected(chain, create(chain, 3, self_bond=1), 48)
    assert "not jailed" in rejected(chain, chain.staking(0, "unjail",
                                                         validator_address=address(0)), 51)


def test_delegation_amount_errors(chain: Chain) -> None:
    assert "cannot move" in rejected(chain, undelegate(chain, 0, 0, 1000 * OPT), 53)
    assert "no delegation" in rejected(chain, undelegate(chain, 4, 0, OPT), 55)
    ok(chain, delegate(chain, 4, 0, 10 * OPT))
    ok(chain, undelegate(chain, 4, 0, OPT))
    ok(chain, undelegate(chain, 4, 0, OPT))
    assert "wait for one" in rejected(chain, undelegate(chain, 4, 0, OPT), 54)
    ok(chain, redelegate(chain, 4, 0, 1, 2 * OPT))
    assert "still maturing" in rejected(chain, redelegate(chain, 4, 1, 2, OPT), 56)
    assert "module account" in rejected(chain, chain.send(4, format_address(STAKING_POOL_ID),
                                                          5), 59)


def test_jail_errors(chain: Chain) -> None:
    # An operator that unbonds below its minimum self-bond is jailed; others cannot bond to it.
    ok(chain, undelegate(chain, 2, 2, 99 * OPT + 500_000))
    assert "jailed" in rejected(chain, delegate(chain, 4, 2, OPT), 49)
    assert "minimum" in rejected(chain, chain.staking(2, "unjail",
                                                      validator_address=address(2)), 48)
    # Downtime with a 100% slash leaves validator 1 jailed with shares but no tokens.
    chain.absent.add(consensus_address(cons_pub(1)))
    chain.run(6)
    chain.absent.clear()
    assert "stays jailed" in rejected(chain, chain.staking(1, "unjail",
                                                           validator_address=address(1)), 52)
    assert "fully slashed" in rejected(chain, delegate(chain, 1, 1, OPT), 57)
    # Double-sign evidence tombstones validator 0 for good.
    chain.block(misbehavior=[abci_pb2.Misbehavior(
        type=abci_pb2.DUPLICATE_VOTE, height=chain.height, total_voting_power=300,
        validator=abci_pb2.Validator(address=consensus_address(cons_pub(0)), power=100))])
    assert "tombstoned" in rejected(chain, delegate(chain, 4, 0, OPT), 50)


def test_a_bond_worth_less_than_one_share_is_refused(chain: Chain) -> None:
    ws = chain.store.working()
    operator = parse_address(address(5))
    set_validator(ws, ValidatorRecord(operator=operator, pub_key=cons_pub(5), moniker="odd",
                                      commission_ppm=0, tokens=10**7, shares=1))
    with pytest.raises(DelegationTooSmall) as exc:
        with ws.transaction():
            process_msg_delegate(ws, Delegate(parse_address(address(4)), operator, 1), PARAMS)
    assert exc.value.code == 58 and "less than one share" in exc.value.message


def test_staking_message_with_someone_elses_address_is_a_signer_mismatch(chain: Chain) -> None:
    raw = chain.tx(4, [build_staking_msg("delegate", delegator_address=address(3),
                                         validator_address=address(0), amount=OPT)])
    rejected(chain, raw, 11)
