"""Genesis validators backed by stake: add an `app_state.staking` section to an AppGenesis.

`localnet/manager.py` calls `with_genesis_validators(localnet_app_genesis(addresses), ...)`
with each node's operator address (funded in the accounts) and its CometBFT consensus key
(priv_validator_key.json). InitChain then bonds the self-delegations from the genesis balances
and answers with the resulting set, which replaces genesis.json's `validators`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from genesis.schema import AppGenesis, GenesisStaking, GenesisValidator
from state.params import Params

LOCALNET_SELF_BOND_UOPT = 100 * 10**6
"""100 OPT per localnet validator: power 100 with the default power_reduction."""

LOCALNET_STAKING_PARAMS = {
    "unbonding_time_s": 20,
    "signed_blocks_window": 20,
    "min_signed_per_window_ppm": 500_000,
    "downtime_jail_duration_s": 10,
    "max_validators": 4,
}
"""Short periods so localnet tests see unbonding, downtime and unjail within a minute or two;
`max_validators` 4 so that a fifth validator has to out-rank one to join."""


def localnet_staking_params(params: Params | None = None) -> Params:
    """`params` (defaults when None) with LOCALNET_STAKING_PARAMS applied."""
    return replace(params or Params(), **LOCALNET_STAKING_PARAMS)


def with_genesis_validators(
    app_genesis: AppGenesis,
    validators: Sequence[tuple[str, bytes]],
    *,
    self_bond: int = LOCALNET_SELF_BOND_UOPT,
    commission_ppm: int = 50_000,
    monikers: Sequence[str] | None = None,
) -> AppGenesis:
    """`app_genesis` plus one staked validator per (operator address, 32-byte ed25519 consensus
    public key), each self-bonding `self_bond` uopt from the operator's genesis balance.
    Validated by a JSON round trip, so a bad key or address fails here."""
    names = list(monikers) if monikers is not None else [f"node{i}" for i in range(len(validators))]
    staking = GenesisStaking(validators=tuple(
        GenesisValidator(operator=operator, pub_key=pub_key, self_bond=self_bond,
                         commission_ppm=commission_ppm, moniker=name)
        for (operator, pub_key), name in zip(validators, names, strict=True)
    ))
    return AppGenesis.from_json(replace(app_genesis, staking=staking).to_json())
