"""Staking query paths (`/staking/...`), all over the last committed state.

Single records are answered with their stored bytes (canonical JSON, see state/staking.py), so
`prove=true` proves exactly the returned value; lists are assembled JSON without proof.

- `/staking/validators`                      JSON list: every validator with status, power,
                                             tokens, shares, commission, jail state
- `/staking/validator/<operator>`            stored record (proof)
- `/staking/delegation/<delegator>/<validator>` stored record (proof; absent = empty value)
- `/staking/delegations/<delegator>`         JSON list with token value and pending rewards
- `/staking/unbonding/<delegator>`           JSON list of pending unbonding entries
- `/staking/redelegations/<delegator>`       JSON list of maturing redelegations
- `/staking/rewards/<delegator>/<validator>` JSON pending rewards (+ commission for the operator)
- `/staking/validator_set`                   JSON: the set signing the next block (power order)
- `/staking/signing_info/<operator>`         JSON liveness window (missed blocks)
- `/staking/pools`                           JSON balances of the staking, unbonding and
                                             rewards pools
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from abci.proto import abci_pb2
from chain.address import format_address, parse_address
from state import keys
from state.accounts import get_balance
from state.denoms import DENOMS, UOPT
from state.errors import InvalidAddress, InvalidQueryKey, UnknownQueryPath
from state.params import get_params
from state.slashing import get_signing_info
from state.staking import (
    REWARDS_POOL_ID,
    STAKING_POOL_ID,
    STATUS_NAMES,
    UNBONDING_POOL_ID,
    ValidatorRecord,
    get_all_redelegations,
    get_delegations,
    get_pending_rewards,
    get_unbonding_entries_of,
    get_validator,
    get_validators,
    compute_tokens_round_down,
)
from state.validators import get_validator_set

if TYPE_CHECKING:
    from collections.abc import Callable

    from state.store import Store


def validator_json(record: ValidatorRecord, power_reduction: int) -> dict[str, Any]:
    """The rendered view of a validator (what `optio q staking validators` shows)."""
    return {
        "operator_address": record.operator_address,
        "consensus_address": record.cons_address.hex().upper(),
        "consensus_pub_key": record.pub_key.hex(),
        "moniker": record.moniker,
        "status": STATUS_NAMES[record.status],
        "power": str(record.power(power_reduction)),
        "tokens": str(record.tokens),
        "shares": str(record.shares),
        "commission_ppm": str(record.commission_ppm),
        "jailed": record.jailed,
        "tombstoned": record.tombstoned,
        "jailed_until_ns": str(record.jailed_until_ns),
        "commission_accrued": {d: str(a) for d, a in zip(DENOMS, record.commission_accrued)},
    }


def answer_staking_query(
    store: Store, args: list[str], path: str, prove: bool,
    respond: Callable[[Store, bytes, bytes, bool], abci_pb2.ResponseQuery],
) -> abci_pb2.ResponseQuery:
    """The response to a `/staking/...` query; `respond` builds a proved single-key answer."""
    ws = store.working()
    kind, rest = (args[0], args[1:]) if args else ("", [])
    height = store.last_height

    def listing(value: Any) -> abci_pb2.ResponseQuery:
        return abci_pb2.ResponseQuery(value=json.dumps(value).encode(), height=height)

    if kind == "validators" and not rest:
        reduction = get_params(ws).power_reduction
        return listing([validator_json(r, reduction) for r in get_validators(ws)])
    if kind == "validator" and len(rest) == 1:
        key = keys.validator_key(_address(path, rest[0]))
        return respond(store, key, store.get(key) or b"", prove)
    if kind == "delegation" and len(rest) == 2:
        key = keys.delegation_key(_address(path, rest[0]), _address(path, rest[1]))
        return respond(store, key, store.get(key) or b"", prove)
    if kind == "delegations" and len(rest) == 1:
        delegator = _address(path, rest[0])
        out = []
        for d in get_delegations(ws, delegator):
            record = get_validator(ws, d.validator)
            assert record is not None
            out.append({
                "validator": format_address(d.validator), "shares": str(d.shares),
                "tokens": str(compute_tokens_round_down(d.shares, record.tokens, record.shares)),
                "rewards": {c.denom: str(c.amount)
                            for c in get_pending_rewards(ws, delegator, d.validator)},
            })
        return listing(out)
    if kind == "unbonding" and len(rest) == 1:
        return listing([
            {"validator": format_address(e.validator), "balance": str(e.balance),
             "initial_balance": str(e.initial_balance), "creation_height": e.creation_height,
             "completion_time_ns": str(e.completion_ns)}
            for e in get_unbonding_entries_of(ws, _address(path, rest[0]))
        ])
    if kind == "redelegations" and len(rest) == 1:
        delegator = _address(path, rest[0])
        return listing([
            {"source": format_address(e.source), "destination": format_address(e.destination),
             "amount": str(e.initial_balance), "creation_height": e.creation_height,
             "completion_time_ns": str(e.completion_ns)}
            for e in get_all_redelegations(ws) if e.delegator == delegator
        ])
    if kind == "rewards" and len(rest) == 2:
        delegator, validator = _address(path, rest[0]), _address(path, rest[1])
        record = get_validator(ws, validator)
        found: dict[str, Any] = {"rewards": {c.denom: str(c.amount) for c in
                                           get_pending_rewards(ws, delegator, validator)}}
        if record is not None and record.operator == delegator:
            found["commission"] = {d: str(a) for d, a in zip(DENOMS, record.commission_accrued)}
        return listing(found)
    if kind == "validator_set" and not rest:
        return listing([
            {"address": v.address.hex().upper(), "pub_key": v.pub_key.hex(),
             "power": str(v.power)}
            for v in get_validator_set(ws, height + 1)
        ])
    if kind == "signing_info" and len(rest) == 1:
        record = get_validator(ws, _address(path, rest[0]))
        if record is None:
            raise InvalidQueryKey(path, f"no validator is operated by {rest[0]}")
        info = get_signing_info(ws, record.cons_address)
        return listing({"counted": info.counted, "missed": info.missed})
    if kind == "pools" and not rest:
        return listing({
            "staking": str(get_balance(ws, STAKING_POOL_ID, UOPT)),
            "unbonding": str(get_balance(ws, UNBONDING_POOL_ID, UOPT)),
            "rewards": {d: str(get_balance(ws, REWARDS_POOL_ID, d)) for d in DENOMS},
        })
    raise UnknownQueryPath(path)


def _address(path: str, text: str) -> bytes:
    try:
        return parse_address(text)
    except InvalidAddress as exc:
        raise InvalidQueryKey(path, exc.message) from None
