"""The Optio `app_state` of genesis.json: typed value, strict JSON validation, JSON output.

Shape (integers are decimal strings, as CometBFT writes int64s; plain JSON
integers are accepted for parameters too)::

    {
      "params":   {"min_fee_uusd": "100", ...},          # optional, defaults fill gaps
      "accounts": [{"address": "optio1…",
                    "balances": [{"denom": "uusd", "amount": "1000000"}]}],
      "staking":  {"validators": [{"operator": "optio1…", "pub_key": "<base64 ed25519>",
                                   "self_bond": "1000000", "commission_ppm": "50000",
                                   "moniker": "node0"}],
                   "delegations": [{"delegator": "optio1…", "validator": "optio1…",
                                    "amount": "500000"}]}     # optional
    }

Total supply is not written: it is the sum of the balances. Every defect raises
a `GenesisError` subclass naming the JSON path of the bad value.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from chain.address import parse_address
from chain.ed25519 import is_valid_public_key
from state.denoms import DENOMS, MAX_AMOUNT, Coin
from state.errors import (
    GenesisDuplicateAccount,
    GenesisError,
    GenesisInvalidAddress,
    GenesisInvalidBalance,
    GenesisInvalidParam,
    GenesisInvalidValidator,
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
class GenesisValidator:
    """A validator bonded at genesis from its operator's genesis uopt balance."""

    operator: str
    pub_key: bytes
    """32-byte ed25519 consensus key (base64 in JSON, as CometBFT writes it)."""
    self_bond: int
    commission_ppm: int = 0
    moniker: str = ""


@dataclass(frozen=True, slots=True)
class GenesisDelegation:
    delegator: str
    validator: str
    """Operator address of a genesis validator."""
    amount: int


@dataclass(frozen=True, slots=True)
class GenesisStaking:
    """Optional `app_state.staking`: without validators, CometBFT's genesis validators are
    kept as fixed members of the set (see state/staking.py)."""

    validators: tuple[GenesisValidator, ...] = ()
    delegations: tuple[GenesisDelegation, ...] = ()


@dataclass(frozen=True, slots=True)
class AppGenesis:
    params: Params = field(default_factory=Params)
    accounts: tuple[GenesisAccount, ...] = ()
    staking: GenesisStaking = field(default_factory=GenesisStaking)
    oracle: OracleParams = field(default_factory=OracleParams)

    @classmethod
    def from_json(cls, obj: Any) -> AppGenesis:
        """Validate a parsed `app_state` object; raise a GenesisError on the first defect."""
        if obj is None:
            return cls()
        _require_object(obj, "app_state", ("params", "accounts", "staking", "oracle"))
        genesis = cls(
            params=_params_from_json(obj.get("params", {})),
            accounts=_accounts_from_json(obj.get("accounts", [])),
            staking=_staking_from_json(obj.get("staking", {})),
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
        """The JSON object `from_json` accepts; every integer as a decimal string. The
        `staking` section appears only when it declares something."""
        obj = self._base_json()
        if self.staking.validators or self.staking.delegations:
            obj["staking"] = _staking_to_json(self.staking)
        return obj

    def _base_json(self) -> dict[str, Any]:
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


def _staking_to_json(staking: GenesisStaking) -> dict[str, Any]:
    return {
        "validators": [
            {"operator": v.operator, "pub_key": base64.b64encode(v.pub_key).decode(),
             "self_bond": str(v.self_bond), "commission_ppm": str(v.commission_ppm),
             "moniker": v.moniker}
            for v in staking.validators
        ],
        "delegations": [
            {"delegator": d.delegator, "validator": d.validator, "amount": str(d.amount)}
            for d in staking.delegations
        ],
    }


def _genesis_address(obj: Any, path: str) -> str:
    if not isinstance(obj, str):
        raise GenesisInvalidValidator(path, "expected an optio1… address string")
    try:
        parse_address(obj)
    except InvalidAddress as exc:
        raise GenesisInvalidValidator(path, exc.message) from None
    return obj.lower()


def _genesis_validator(obj: Any, path: str) -> GenesisValidator:
    _require_object(obj, path, ("operator", "pub_key", "self_bond", "commission_ppm", "moniker"))
    operator = _genesis_address(obj.get("operator"), f"{path}.operator")
    try:
        pub_key = base64.b64decode(obj.get("pub_key", ""), validate=True)
    except (ValueError, TypeError):
        raise GenesisInvalidValidator(f"{path}.pub_key", "not base64") from None
    if len(pub_key) != 32 or not is_valid_public_key(pub_key):
        raise GenesisInvalidValidator(f"{path}.pub_key", "not a usable 32-byte ed25519 key")
    self_bond = _integer(obj.get("self_bond"), f"{path}.self_bond", GenesisInvalidValidator,
                         allow_int=True)
    if not 0 < self_bond <= MAX_AMOUNT:
        raise GenesisInvalidValidator(f"{path}.self_bond", "must be positive uopt")
    commission = _integer(obj.get("commission_ppm", 0), f"{path}.commission_ppm",
                          GenesisInvalidValidator, allow_int=True)
    if not 0 <= commission <= 1_000_000:
        raise GenesisInvalidValidator(f"{path}.commission_ppm", "must be 0..1000000")
    moniker = obj.get("moniker", "")
    if not isinstance(moniker, str) or len(moniker.encode()) > 70:
        raise GenesisInvalidValidator(f"{path}.moniker", "expected a string of at most 70 bytes")
    return GenesisValidator(operator, pub_key, self_bond, commission, moniker)


def _genesis_delegation(obj: Any, path: str) -> GenesisDelegation:
    _require_object(obj, path, ("delegator", "validator", "amount"))
    amount = _integer(obj.get("amount"), f"{path}.amount", GenesisInvalidValidator, allow_int=True)
    if not 0 < amount <= MAX_AMOUNT:
        raise GenesisInvalidValidator(f"{path}.amount", "must be positive uopt")
    return GenesisDelegation(_genesis_address(obj.get("delegator"), f"{path}.delegator"),
                             _genesis_address(obj.get("validator"), f"{path}.validator"), amount)


def _staking_from_json(obj: Any) -> GenesisStaking:
    _require_object(obj, "app_state.staking", ("validators", "delegations"))
    validators = tuple(_genesis_validator(item, f"app_state.staking.validators[{i}]")
                       for i, item in enumerate(_json_list(obj, "validators")))
    delegations = tuple(_genesis_delegation(item, f"app_state.staking.delegations[{i}]")
                        for i, item in enumerate(_json_list(obj, "delegations")))
    operators = [v.operator for v in validators]
    keys = [v.pub_key for v in validators]
    if len(set(operators)) != len(operators) or len(set(keys)) != len(keys):
        raise GenesisInvalidValidator("app_state.staking.validators",
                                      "an operator or consensus key is listed twice")
    return GenesisStaking(validators=validators, delegations=delegations)


def _json_list(obj: dict[str, Any], name: str) -> list[Any]:
    items = obj.get(name, [])
    if not isinstance(items, list):
        raise GenesisError(f"app_state.staking.{name}", "expected a JSON list")
    return items


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
