"""Staking ABCI queries over committed state: validator and delegation records with proofs
against the app hash, listings with status, power and pending rewards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from abci.proto import abci_pb2
from state.params import Params
from state.proof import verify
from tests.staking.driver import Chain, address, cons_pub

OPT = 10**6


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    made = Chain(tmp_path / "node", params=replace(Params(), unbonding_time_s=60))
    made.block([made.staking(4, "delegate", delegator_address=address(4),
                             validator_address=address(1), amount=7 * OPT)])
    made.block([made.staking(4, "undelegate", delegator_address=address(4),
                             validator_address=address(1), amount=2 * OPT)])
    made.block()
    yield made
    made.close()


def query(chain: Chain, path: str, prove: bool = False) -> abci_pb2.ResponseQuery:
    response = chain.app.query(abci_pb2.RequestQuery(path=path, prove=prove))
    assert response.code == 0, response.log
    return response


def test_validator_record_is_proved_against_the_app_hash(chain: Chain) -> None:
    response = query(chain, f"/staking/validator/{address(1)}", prove=True)
    record = json.loads(response.value)
    assert record["tokens"] == 105 * OPT and record["pub_key"] == cons_pub(1).hex()
    (op,) = response.proof_ops.ops
    assert verify(chain.store.last_app_hash, op.key, response.value, op.data)
    assert not verify(chain.store.last_app_hash, op.key, response.value.replace(b"105", b"106"),
                      op.data)


def test_delegation_record_is_proved_and_an_absent_one_is_proved_absent(chain: Chain) -> None:
    present = query(chain, f"/staking/delegation/{address(4)}/{address(1)}", prove=True)
    assert json.loads(present.value)["shares"] == 5 * OPT * 10**6
    assert verify(chain.store.last_app_hash, present.proof_ops.ops[0].key, present.value,
                  present.proof_ops.ops[0].data)
    absent = query(chain, f"/staking/delegation/{address(5)}/{address(1)}", prove=True)
    assert absent.value == b""
    assert verify(chain.store.last_app_hash, absent.proof_ops.ops[0].key, None,
                  absent.proof_ops.ops[0].data)


def test_listings_show_status_power_delegations_unbonding_and_rewards(chain: Chain) -> None:
    validators = json.loads(query(chain, "/staking/validators").value)
    assert {v["status"] for v in validators} == {"bonded"}
    assert sorted(int(v["power"]) for v in validators) == [100, 100, 105]
    (delegation,) = json.loads(query(chain, f"/staking/delegations/{address(4)}").value)
    assert delegation["tokens"] == str(5 * OPT) and int(delegation["rewards"]["uopt"]) > 0
    (entry,) = json.loads(query(chain, f"/staking/unbonding/{address(4)}").value)
    assert entry["balance"] == str(2 * OPT)
    rewards = json.loads(query(chain, f"/staking/rewards/{address(1)}/{address(1)}").value)
    assert "commission" in rewards and int(rewards["rewards"]["uopt"]) > 0
    assert len(json.loads(query(chain, "/staking/validator_set").value)) == 3
    pools = json.loads(query(chain, "/staking/pools").value)
    assert pools["staking"] == str(305 * OPT) and pools["unbonding"] == str(2 * OPT)


def test_bad_staking_query_paths_are_numbered_errors(chain: Chain) -> None:
    bad = chain.app.query(abci_pb2.RequestQuery(path="/staking/validator/nope"))
    assert bad.code == 101
    unknown = chain.app.query(abci_pb2.RequestQuery(path="/staking/everything"))
    assert unknown.code == 100
