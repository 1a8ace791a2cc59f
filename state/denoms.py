"""Denominations the chain knows and the bound on any single amount of money.

Amounts are Python ints in micro-units (`uusd` = 10^-6 USD collateral, `uopt` =
10^-6 OPT staking token). Every amount, balance and total supply stays within
`MAX_AMOUNT` (the int64 maximum, so amounts fit CometBFT/Cosmos tooling and
fixed-width encodings). Because a balance can never exceed its denom's total
supply, and genesis caps each supply at `MAX_AMOUNT`, transfers cannot overflow.
"""

from __future__ import annotations

from dataclasses import dataclass

UUSD = "uusd"
UOPT = "uopt"
DENOMS: tuple[str, ...] = (UOPT, UUSD)
"""Known denoms in byte order, the order used whenever all denoms are walked."""

FEE_DENOM = UUSD
MAX_AMOUNT = 2**63 - 1


def is_known_denom(denom: str) -> bool:
    return denom in DENOMS


def coin_text(amount: int, denom: str) -> str:
    """`100uusd`: how amounts appear in events and the CLI (`str(Coin)`), without building a
    Coin on hot paths."""
    return f"{amount}{denom}"


@dataclass(frozen=True, slots=True)
class Coin:
    """An amount of one denom, in micro-units."""

    denom: str
    amount: int

    def __str__(self) -> str:
        return coin_text(self.amount, self.denom)
