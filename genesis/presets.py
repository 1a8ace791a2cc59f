"""Ready-made app genesis states for development networks."""

from __future__ import annotations

from dataclasses import replace

from genesis.schema import AppGenesis, GenesisAccount
from state.denoms import UOPT, UUSD, Coin
from state.params import Params

LOCALNET_UUSD_PER_ACCOUNT = 1_000_000 * 10**6
"""One million USD of collateral per demo account, in micro-units."""
LOCALNET_UOPT_PER_ACCOUNT = 1_000_000 * 10**6
"""One million OPT per demo account (enough to bond a validator), in micro-units."""


def localnet_params(validators: int, cores: int) -> Params:
    """Default params with the VDF scaled to a localnet, where `validators` share `cores`.

    T is tuned so that proving takes a bounded share (about 20%) of a validator's CPU during a
    block interval (docs/ordering.md). A localnet validator gets only `cores / validators` of a
    core, so T is scaled by that share (never up, never below 1,000) to keep the same bound."""
    default = Params()
    share_ppm = min(1_000_000, cores * 1_000_000 // max(1, validators))
    iterations = max(1_000, default.vdf_iterations * share_ppm // 1_000_000)
    return replace(default, vdf_iterations=iterations)


def localnet_app_genesis(addresses: list[str], *, params: Params | None = None) -> AppGenesis:
    """Fund each address with LOCALNET_* amounts of uusd and uopt, validated like any genesis."""
    genesis = AppGenesis(
        params=params or Params(),
        accounts=tuple(
            GenesisAccount(
                address=address,
                balances=(
                    Coin(UOPT, LOCALNET_UOPT_PER_ACCOUNT),
                    Coin(UUSD, LOCALNET_UUSD_PER_ACCOUNT),
                ),
            )
            for address in addresses
        ),
    )
    # A round trip through the validator catches bad or duplicate addresses here,
    # not later in InitChain on every node.
    return AppGenesis.from_json(genesis.to_json())
