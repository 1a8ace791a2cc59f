"""Shadow nodes with staking: a node restarted before every block reaches the same app hash
and the same validator updates as one that ran through, over bonds, unbonds, redelegations,
rewards, downtime, evidence and unbonding maturity."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from abci.proto import abci_pb2
from state.params import Params
from state.validators import consensus_address
from tests.staking.driver import Chain, address, cons_pub

OPT = 10**6
PARAMS = replace(Params(), unbonding_time_s=20, signed_blocks_window=6,
                 downtime_jail_duration_s=10, max_validators=3)


def test_a_node_restarted_before_every_block_agrees_with_one_that_never_stopped(
    tmp_path: Path,
) -> None:
    full = Chain(tmp_path / "full", params=PARAMS, validators=3)
    shadow = Chain(tmp_path / "shadow", params=PARAMS, validators=3)
    assert full.init.app_hash == shadow.init.app_hash
    script: dict[int, list[bytes]] = {
        2: [full.staking(4, "delegate", delegator_address=address(4),
                         validator_address=address(0), amount=30 * OPT)],
        3: [full.staking(3, "create_validator", operator_address=address(3),
                         consensus_pub_key=cons_pub(3), commission_ppm=20_000, moniker="four",
                         self_bond=120 * OPT)],
        5: [full.staking(4, "redelegate", delegator_address=address(4),
                         src_validator_address=address(0), dst_validator_address=address(1),
                         amount=10 * OPT),
            full.staking(4, "undelegate", delegator_address=address(4),
                         validator_address=address(0), amount=5 * OPT)],
        9: [full.staking(4, "withdraw_rewards", delegator_address=address(4),
                         validator_address=address(1))],
    }
    evidence = {12: [abci_pb2.Misbehavior(
        type=abci_pb2.DUPLICATE_VOTE, height=10, total_voting_power=400,
        validator=abci_pb2.Validator(address=consensus_address(cons_pub(1)), power=110))]}
    try:
        for height in range(1, 25):
            down = {consensus_address(cons_pub(2))} if 4 <= height < 14 else set()
            full.absent = shadow.absent = down
            shadow.restart()
            txs = script.get(height, [])
            a = full.block(txs, misbehavior=evidence.get(height, ()))
            b = shadow.block(txs, misbehavior=evidence.get(height, ()))
            assert a.app_hash == b.app_hash, f"diverged at height {height}"
            assert list(a.validator_updates) == list(b.validator_updates)
            assert [r.code for r in a.tx_results] == [r.code for r in b.tx_results]
            assert all(r.code == 0 for r in a.tx_results), [r.log for r in a.tx_results]
    finally:
        full.close()
        shadow.close()
