"""Ready-made app genesis states for development networks."""

from __future__ import annotations

from genesis.schema import AppGenesis, GenesisAccount
from state.denoms import UOPT, UUSD, Coin
from state.params import Params

LOCALNET_UUSD_PER_ACCOUNT = 1_000_000 * 10**6
"""One million USD of collateral per demo account, in micro-units."""
LOCALNET_UOPT_PER_ACCOUNT = 1_000_000 * 10**6
"""One million OPT per demo account (enough to bond a validator), in micro-units."""


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
