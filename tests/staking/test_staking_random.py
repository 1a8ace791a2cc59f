"""Random staking traffic (seeded) through the real app with every invariant checked after each
block: pools back tokens and entries, shares add up, the rewards pool covers what is owed, and
the set told to CometBFT is the bonded set. Failing txs must fail with a numbered code."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from abci.proto import abci_pb2
from state.accounts import get_next_nonce
from state.errors import CODES
from state.params import Params
from state.validators import consensus_address
from tests.staking.driver import Chain, address, cons_pub

OPT = 10**6
PARAMS = replace(Params(), unbonding_time_s=30, signed_blocks_window=5,
                 downtime_jail_duration_s=15, max_validators=3, max_entries=3,
                 slash_fraction_downtime_ppm=10_000)


def random_tx(chain: Chain, rng: random.Random) -> bytes:
    signer = rng.randrange(6)
    validator = rng.randrange(5)
    other = rng.randrange(5)
    amount = rng.choice([1, 999, OPT, 7 * OPT, 40 * OPT])
    kind = rng.choice(["delegate", "undelegate", "redelegate", "withdraw", "unjail", "create"])
    if kind == "create":
        return chain.staking(signer, "create_validator", operator_address=address(signer),
                             consensus_pub_key=cons_pub(signer), commission_ppm=rng.randrange(10**6),
                             moniker=f"v{signer}", self_bond=rng.choice([OPT, 20 * OPT, 150 * OPT]))
    if kind == "redelegate" and validator != other:
        return chain.staking(signer, "redelegate", delegator_address=address(signer),
                             src_validator_address=address(validator),
                             dst_validator_address=address(other), amount=amount)
    if kind == "withdraw":
        return chain.staking(signer, "withdraw_rewards", delegator_address=address(signer),
                             validator_address=address(validator))
    if kind == "unjail":
        return chain.staking(signer, "unjail", validator_address=address(signer))
    name = "undelegate" if kind == "undelegate" else "delegate"
    return chain.staking(signer, name, delegator_address=address(signer),
                         validator_address=address(validator), amount=amount)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_staking_traffic_keeps_every_invariant(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    chain = Chain(tmp_path / f"n{seed}", params=PARAMS, validators=3, accounts=6)
    try:
        for height in range(1, 61):
            chain.absent = {consensus_address(cons_pub(i)) for i in range(5)
                            if rng.random() < 0.15}
            misbehavior = []
            if height > 5 and rng.random() < 0.05:
                target = rng.randrange(5)
                misbehavior.append(abci_pb2.Misbehavior(
                    type=abci_pb2.DUPLICATE_VOTE, height=height - rng.randrange(1, 4),
                    total_voting_power=1,
                    validator=abci_pb2.Validator(address=consensus_address(cons_pub(target)),
                                                 power=rng.randrange(1, 200))))
            txs = [random_tx(chain, rng) for _ in range(rng.randrange(0, 6))]
            response = chain.block(txs, misbehavior=misbehavior, seconds=rng.randrange(1, 8))
            for result in response.tx_results:
                assert result.code == 0 or result.code in CODES, result.log
            # Nonces of failed txs stay unused: resynchronise the driver's counters.
            for signer in range(6):
                chain.nonces[signer] = get_next_nonce(chain.ws, address(signer)) - 1
            assert chain.validator_set(chain.height + 2)
    finally:
        chain.close()
