"""InitChain transition: write a validated AppGenesis into an empty WorkingState."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chain.address import parse_address
from genesis.schema import AppGenesis
from state.accounts import mint_coins
from state.oracle import set_oracle_params
from state.params import set_chain_id, set_params

if TYPE_CHECKING:
    from state.store import WorkingState


def process_genesis(ws: WorkingState, app_genesis: AppGenesis, *, chain_id: str | None = None) -> None:
    """Write params, the chain id (when given), every balance and the resulting supplies.

    Balances are minted, so each denom's total supply is exactly the sum of the
    genesis balances and the fee pool starts empty. No account records are
    written: an account gets one with its first signed transaction.
    """
    set_params(ws, app_genesis.params)
    set_oracle_params(ws, app_genesis.oracle)
    if chain_id is not None:
        set_chain_id(ws, chain_id)
    for account in app_genesis.accounts:
        account_id = parse_address(account.address)
        for coin in account.balances:
            mint_coins(ws, account_id, coin.denom, coin.amount)
