"""The Optio `app_state` of genesis.json: typed value, strict JSON validation, JSON output.

Shape (integers are decimal strings, as CometBFT writes int64s; plain JSON
integers are accepted for parameters too)::

    {
      "params":   {"min_fee_uusd": "100", ...},          # optional, defaults fill gaps
      "accounts": [{"address": "optio1…",
                    "balances": [{"denom": "uusd", "amount": "1000000"}]}]
    }

Total supply is not written: it is the sum of the balances. Every defect raises
a `GenesisError` subclass naming the JSON path of the bad value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from chain.address import parse_address
from state.denoms import DENOMS, MAX_AMOUNT, Coin
from state.errors import (
    GenesisDuplicateAccount,
    GenesisError,
    GenesisInvalidAddress,
    GenesisInvalidBalance,
    GenesisInvalidParam,
    GenesisSupplyOverflow,
    GenesisUnknownDenom,
    GenesisUnknownParam,
    InvalidAddress,
)
from state.oracle import OracleParams
from state.params import PARAM_NAMES, Params, param_problem

_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)")
_MAX_DIGITS = 40


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    address: str
    balances: tuple[Coin, ...]


@dataclass(frozen=True, slots=True)
class AppGenesis:
    params: Params = field(default_factory=Params)
    accounts: tuple[GenesisAccount, ...] = ()
    oracle: OracleParams = field(default_factory=OracleParams)

    @classmethod
    def from_json(cls, obj: Any) -> AppGenesis:
        """Validate a parsed `app_state` object; raise a GenesisError on the first defect."""
        if obj is None:
            return cls()
        _require_object(obj, "app_state", ("params", "accounts", "oracle"))
        genesis = cls(
            params=_params_from_json(obj.get("params", {})),
            accounts=_accounts_from_json(obj.get("accounts", [])),
            oracle=_oracle_from_json(obj.get("oracle", {})),
        )
        for denom in DENOMS:
            supply = genesis.total_supply(denom)
            if supply > MAX_AMOUNT:
                raise GenesisSupplyOverflow(
                    "app_state.accounts",
                    f"total {denom} supply {supply} exceeds the maximum {MAX_AMOUNT}",
                )
        return genesis

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> AppGenesis:
        """Parse `RequestInitChain.app_state_bytes`; empty bytes mean an empty genesis."""
        if not raw.strip():
            return cls()
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GenesisError("app_state", f"not valid JSON ({exc})") from None
        return cls.from_json(obj)

    def to_json(self) -> dict[str, Any]:
        """The JSON object `from_json` accepts; every integer as a decimal string."""
        return {
            "params": {name: str(getattr(self.params, name)) for name in PARAM_NAMES},
            "accounts": [
                {
                    "address": account.address,
                    "balances": [
                        {"denom": coin.denom, "amount": str(coin.amount)}
                        for coin in account.balances
                    ],
                }
                for account in self.accounts
            ],
            "oracle": self.oracle.to_json(),
        }

    def total_supply(self, denom: str) -> int:
        return sum(c.amount for a in self.accounts for c in a.balances if c.denom == denom)


def _require_object(obj: Any, path: str, allowed: tuple[str, ...]) -> None:
    if not isinstance(obj, dict):
        raise GenesisError(path, f"expected a JSON object, got {type(obj).__name__}")
    for key in obj:
        if key not in allowed:
            raise GenesisError(path, f"unknown field {key!r}; allowed: {', '.join(allowed)}")


def _integer(value: Any, path: str, error: type[GenesisError], *, allow_int: bool) -> int:
    """A JSON decimal string (or int when allowed) as an int; `error` on anything else."""
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise error(path, f"expected a decimal string, got {json.dumps(value)}")
    if len(value) > _MAX_DIGITS or not _DECIMAL.fullmatch(value):
        raise error(path, f"{value!r} is not a whole decimal number (digits only, no leading zeros)")
    return int(value)


def _params_from_json(obj: Any) -> Params:
    if not isinstance(obj, dict):
        raise GenesisError("app_state.params", f"expected a JSON object, got {type(obj).__name__}")
    values: dict[str, int] = {}
    for name, raw in obj.items():
        path = f"app_state.params.{name}"
        if name not in PARAM_NAMES:
            raise GenesisUnknownParam(path, f"unknown parameter; known: {', '.join(PARAM_NAMES)}")
        value = _integer(raw, path, GenesisInvalidParam, allow_int=True)
        problem = param_problem(name, value)
        if problem is not None:
            raise GenesisInvalidParam(path, problem)
        values[name] = value
    return replace(Params(), **values)


def _oracle_from_json(obj: Any) -> OracleParams:
    """The `oracle` object: `underlyings` (list of names) and decimal-string integers."""
    path = "app_state.oracle"
    _require_object(obj, path, tuple(OracleParams.__dataclass_fields__))
    defaults = OracleParams()
    underlyings = obj.get("underlyings", list(defaults.underlyings))
    if not isinstance(underlyings, list) or not all(isinstance(u, str) for u in underlyings):
        raise GenesisInvalidParam(f"{path}.underlyings", "expected a JSON list of names")
    values = {
        name: _integer(obj[name], f"{path}.{name}", GenesisInvalidParam, allow_int=True)
        for name in ("min_power_share_ppm", "twap_history_len", "max_extension_bytes")
        if name in obj
    }
    params = replace(defaults, underlyings=tuple(underlyings), **values)
    problem = params.problem()
    if problem is not None:
        raise GenesisInvalidParam(path, problem)
    return params


def _coin_from_json(obj: Any, path: str) -> Coin:
    _require_object(obj, path, ("denom", "amount"))
    denom = obj.get("denom")
    if denom not in DENOMS:
        raise GenesisUnknownDenom(
            f"{path}.denom", f"unknown denom {json.dumps(denom)}; known: {', '.join(DENOMS)}"
        )
    amount = _integer(obj.get("amount"), f"{path}.amount", GenesisInvalidBalance, allow_int=False)
    if amount < 0:
        raise GenesisInvalidBalance(f"{path}.amount", f"balance cannot be negative ({amount})")
    if amount == 0:
        raise GenesisInvalidBalance(f"{path}.amount", "zero balance: leave the entry out")
    if amount > MAX_AMOUNT:
        raise GenesisInvalidBalance(f"{path}.amount", f"exceeds the maximum amount {MAX_AMOUNT}")
    return Coin(denom, amount)


def _account_from_json(obj: Any, path: str) -> tuple[bytes, GenesisAccount]:
    _require_object(obj, path, ("address", "balances"))
    address = obj.get("address")
    if not isinstance(address, str):
        raise GenesisInvalidAddress(f"{path}.address", "expected an optio1… address string")
    try:
        account_id = parse_address(address)
    except InvalidAddress as exc:
        raise GenesisInvalidAddress(f"{path}.address", exc.message) from None
    raw_balances = obj.get("balances", [])
    if not isinstance(raw_balances, list):
        raise GenesisError(f"{path}.balances", "expected a JSON list")
    balances: list[Coin] = []
    for index, raw_coin in enumerate(raw_balances):
        coin = _coin_from_json(raw_coin, f"{path}.balances[{index}]")
        if any(seen.denom == coin.denom for seen in balances):
            raise GenesisInvalidBalance(f"{path}.balances[{index}]", f"second balance in {coin.denom}")
        balances.append(coin)
    return account_id, GenesisAccount(address=address.lower(), balances=tuple(balances))


def _accounts_from_json(obj: Any) -> tuple[GenesisAccount, ...]:
    if not isinstance(obj, list):
        raise GenesisError("app_state.accounts", "expected a JSON list")
    first_seen: dict[bytes, int] = {}
    accounts: list[GenesisAccount] = []
    for index, raw in enumerate(obj):
        path = f"app_state.accounts[{index}]"
        account_id, account = _account_from_json(raw, path)
        if account_id in first_seen:
            raise GenesisDuplicateAccount(
                path, f"account {account.address} already listed at accounts[{first_seen[account_id]}]"
            )
        first_seen[account_id] = index
        accounts.append(account)
    return tuple(accounts)
