"""ABCI query paths: route a path to a state key, read the committed value, render it.

Paths (all read the last committed state; `prove=true` adds one `optio:smt` proof op whose
key is the state key, whose data is the proof, and whose root is the app hash CometBFT puts in
the header of block `height + 1`):

- `/account/<optio1…>`       JSON {"address", "next_nonce", "max_nonce", "pending_next_nonce"};
                             proof over the committed account record (absent until the account
                             first signs). `pending_next_nonce` also counts this node's mempool, so
                             a wallet firing several txs before a block gets distinct nonces.
- `/balance/<optio1…>/<denom>` decimal string; proof over the 8-byte balance (absent = 0)
- `/supply/<denom>`, `/fee_pool/<denom>` decimal strings, with proof over the 8-byte value
- `/invariants`               JSON: supply conservation and the staking invariants, evaluated
                             together on the committed state of one height
- `/params`                  JSON of every chain parameter (no proof: several keys)
- `/key/<hex>` or `/key` with the raw key in `data`: the raw stored bytes, with proof
- `/staking/...`: validators, delegations, unbonding, rewards (chain/query_staking.py)
- `/oracle/prices`           JSON {"height", "time_ns", "prices": {underlying: record | null}}
                             of every genesis underlying (no proof: several keys)
- `/oracle/price/<underlying>` JSON record {"price_ticks", "price", "height", "time_ns"};
                             proof over the 24-byte stored record
- `/oracle/twap/<underlying>/<window_seconds>` JSON TWAP over the window ending at the last
                             committed block time, rounded down (no proof: a range of keys)
- `/block_order/<height>`    JSON beacon of that block {"height", "seed", "y", "iterations",
                             "randomness"} (hex); proof over the stored beacon record
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from abci.proto import abci_pb2, crypto_pb2
from chain.address import format_address, parse_address
from chain.query_staking import answer_staking_query
from state import keys
from state.accounts import Account, get_next_nonce, is_supply_conserved
from state.beacon import Beacon
from state.block import NANOS_PER_SECOND, get_block_header
from state.codec import decode_u64
from state.denoms import is_known_denom
from state.errors import InvalidAddress, InvalidQueryKey, UnknownQueryPath
from state.oracle import PriceRecord, get_oracle_params, get_twap
from state.params import get_params
from state.proof import PROOF_OP_TYPE
from state.staking import check_staking_invariants

if TYPE_CHECKING:
    from state.store import Store, WorkingState


def answer_query(
    store: Store, pending: WorkingState, path: str, data: bytes, *, prove: bool
) -> abci_pb2.ResponseQuery:
    """The response to one query; raises a `QueryError` for a bad path or key. `pending` is
    the mempool's check state (committed state plus accepted, not yet included txs; from a
    block's execution to its commit, that block as well: chain/mempool.py)."""
    parts = path.strip("/").split("/")
    kind, args = parts[0], parts[1:]
    if kind == "account" and len(args) == 1:
        account_id = _account_id(path, args[0])
        key = keys.account_key(account_id)
        raw = store.get(key)
        window = get_params(pending).nonce_window
        account = Account.decode(raw) if raw is not None else Account.new(window)
        value = json.dumps({
            "address": format_address(account_id),
            "next_nonce": str(account.next_nonce),
            "max_nonce": str(account.max_nonce),
            "pending_next_nonce": str(get_next_nonce(pending, account_id)),
        }).encode()
        return _response(store, key, value, prove)
    if kind == "balance" and len(args) == 2:
        account_id = _account_id(path, args[0])
        if not is_known_denom(args[1]):
            raise InvalidQueryKey(path, f"unknown denom {args[1]!r}")
        key = keys.balance_key(account_id, args[1])
        raw = store.get(key)
        value = str(decode_u64(raw) if raw is not None else 0).encode()
        return _response(store, key, value, prove)
    if kind in ("supply", "fee_pool") and len(args) == 1:
        if not is_known_denom(args[0]):
            raise InvalidQueryKey(path, f"unknown denom {args[0]!r}")
        key = keys.supply_key(args[0]) if kind == "supply" else keys.fee_pool_key(args[0])
        raw = store.get(key)
        return _response(store, key, str(decode_u64(raw) if raw is not None else 0).encode(), prove)
    if kind == "params" and not args:
        params = get_params(pending)
        value = json.dumps({name: str(v) for name, v in asdict(params).items()}).encode()
        return abci_pb2.ResponseQuery(value=value, height=store.last_height)
    if kind == "oracle":
        return _oracle_query(store, path, args, prove)
    if kind == "block_order" and len(args) == 1:
        height = _decimal(path, args[0], "height")
        key = keys.beacon_key(height)
        raw = store.get(key)
        value = b""
        if raw is not None:
            beacon = Beacon.decode(height, raw)
            value = json.dumps({
                "height": str(height), "seed": beacon.seed.hex(), "y": beacon.y.hex(),
                "iterations": str(beacon.iterations), "randomness": beacon.randomness.hex(),
            }).encode()
        return _response(store, key, value, prove)
    if kind == "staking":
        return answer_staking_query(store, args, path, prove, _response)
    if kind == "invariants" and not args:
        return abci_pb2.ResponseQuery(value=_invariants_json(store), height=store.last_height)
    if kind == "key" and len(args) <= 1:
        key = _raw_key(path, args[0] if args else None, data)
        raw = store.get(key)
        return _response(store, key, raw or b"", prove)
    raise UnknownQueryPath(path)


def _invariants_json(store: Store) -> bytes:
    """Every state invariant evaluated on the committed state of one height, in one call (a
    client reading supply and balances one query at a time would straddle blocks)."""
    ws = store.working()
    try:
        check_staking_invariants(ws, store.last_height)
        staking = "ok"
    except RuntimeError as exc:
        staking = str(exc)
    return json.dumps({
        "height": str(store.last_height),
        "supply_conserved": is_supply_conserved(ws),
        "staking": staking,
    }).encode()


def _price_json(record: PriceRecord | None) -> dict[str, str] | None:
    if record is None:
        return None
    return {"price_ticks": str(record.price_ticks), "price": _usd(record.price_ticks),
            "height": str(record.height), "time_ns": str(record.time_ns)}


def _usd(ticks: int) -> str:
    """Ticks (micro-USD) as an exact decimal string."""
    return f"{ticks // 1_000_000}.{ticks % 1_000_000:06d}"


def _oracle_query(store: Store, path: str, args: list[str], prove: bool) -> abci_pb2.ResponseQuery:
    underlyings = get_oracle_params(store).underlyings
    header = get_block_header(store)
    if args == ["prices"]:
        value = json.dumps({
            "height": str(store.last_height),
            "time_ns": str(header.time_ns if header else 0),
            "prices": {u: _price_json(_price_record(store, u)) for u in underlyings},
        }).encode()
        return abci_pb2.ResponseQuery(value=value, height=store.last_height)
    if len(args) >= 2 and args[0] in ("price", "twap") and args[1] not in underlyings:
        raise InvalidQueryKey(
            path, f"unknown underlying {args[1]!r}; known: {', '.join(underlyings)}")
    if len(args) == 2 and args[0] == "price":
        key = keys.oracle_price_key(args[1])
        record = _price_record(store, args[1])
        return _response(store, key, json.dumps(_price_json(record)).encode(), prove)
    if len(args) == 3 and args[0] == "twap":
        window_s = _decimal(path, args[2], "window in seconds")
        end_ns = header.time_ns if header else 0
        twap = get_twap(store, args[1], window_s * NANOS_PER_SECOND, end_ns)
        value = json.dumps(None if twap is None else {
            "underlying": args[1], "price_ticks": str(twap.price_ticks),
            "price": _usd(twap.price_ticks), "rounding": "down",
            "window_s": str(window_s), "end_ns": str(twap.end_ns),
            "covered_ns": str(twap.covered_ns), "observations": str(twap.observations),
        }).encode()
        return abci_pb2.ResponseQuery(value=value, height=store.last_height)
    raise UnknownQueryPath(path)


def _price_record(store: Store, underlying: str) -> PriceRecord | None:
    raw = store.get(keys.oracle_price_key(underlying))
    return None if raw is None else PriceRecord.decode(raw)


def _decimal(path: str, text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 19:
        raise InvalidQueryKey(path, f"{what} must be a whole non-negative number, got {text!r}")
    return int(text)


def _response(store: Store, key: bytes, value: bytes, prove: bool) -> abci_pb2.ResponseQuery:
    response = abci_pb2.ResponseQuery(key=key, value=value, height=store.last_height)
    if prove:
        _, proof, height = store.prove(key)
        response.height = height
        response.proof_ops.CopyFrom(
            crypto_pb2.ProofOps(ops=[crypto_pb2.ProofOp(type=PROOF_OP_TYPE, key=key, data=proof)])
        )
    return response


def _account_id(path: str, text: str) -> bytes:
    try:
        return parse_address(text)
    except InvalidAddress as exc:
        raise InvalidQueryKey(path, exc.message) from None


def _raw_key(path: str, hex_key: str | None, data: bytes) -> bytes:
    if hex_key is None:
        if not data:
            raise InvalidQueryKey(path, "give the key as /key/<hex> or in the query data")
        return data
    try:
        return bytes.fromhex(hex_key)
    except ValueError:
        raise InvalidQueryKey(path, f"{hex_key!r} is not hex") from None
