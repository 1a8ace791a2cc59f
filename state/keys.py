"""Every storage key of the node, built in this one module.

Two namespaces live in one LevelDB:

1. the store's own layout (values, commit metadata), which is not part
   of the app state and not covered by the app hash except through the tree;
2. app-state keys, which are the leaves of the Merkle tree.

Integers inside keys are big-endian fixed width so that byte order is numeric
order; variable-length components are length-prefixed so no key is a prefix of
another by accident. Iterate only in key order.
"""

from __future__ import annotations

from functools import lru_cache

# --- 1. Store layout (owned by state/store.py) ------------------------------------

# One-byte prefixes keep the store's own records apart from each other. App-state keys
# never appear raw in the DB: they are always stored behind STORE_VALUE_PREFIX.
LEGACY_NODE_PREFIX = b"n"
"""Tree node records (``n`` + node hash -> record) of stores written before the tree moved
to memory; deleted when such a store is opened (state/store.py)."""
STORE_VALUE_PREFIX = b"v"
"""Committed app-state values: ``v`` + app-state key -> value (iterated in key order)."""
STORE_META_HEIGHT = b"m/height"
"""Last committed height, 8 bytes big-endian."""
STORE_META_APP_HASH = b"m/app_hash"
"""App hash (tree root) of the last committed height, 32 bytes."""


def store_value_key(key: bytes) -> bytes:
    """DB key holding the committed value of app-state ``key`` (order-preserving)."""
    return STORE_VALUE_PREFIX + key


# --- 2. App-state keys ----------------------------------------------------------------

# Readable ASCII prefixes ending in "/" so a dumped state is easy to read; each
# variable-length component after them carries a one-byte length so that no key of
# one kind is a prefix of another and key order is (length, bytes) order.
ACCOUNT_PREFIX = b"acc/"
"""``acc/`` + lp(account id) -> account nonce window (see state/accounts.py)."""
BALANCE_PREFIX = b"bal/"
"""``bal/`` + lp(account id) + lp(denom) -> u64 balance; absent means zero."""
SUPPLY_PREFIX = b"sup/"
"""``sup/`` + lp(denom) -> u64 total supply."""
FEE_POOL_PREFIX = b"fee/"
"""``fee/`` + lp(denom) -> u64 fees collected and not yet distributed."""
PARAM_PREFIX = b"par/"
"""``par/`` + lp(name) -> u64 chain parameter (see state/params.py)."""
BEACON_PREFIX = b"vdf/"
"""``vdf/`` + u64 height -> that block's VDF beacon: T, seed, output y (see state/beacon.py)."""
CHAIN_ID_KEY = b"meta/chain_id"
"""UTF-8 chain id fixed at genesis (Info/FinalizeBlock do not carry it)."""
BLOCK_HEADER_KEY = b"meta/block"
"""Height and time of the block being executed / last executed (see state/block.py)."""

# Staking (state/validators.py, state/staking.py, state/slashing.py, state/distribution.py).
# Operator, delegator and consensus addresses are 20-byte ids; heights, times and entry ids
# are u64 big-endian so queues iterate in time order.
VALSET_PREFIX = b"vset/"
"""``vset/`` + u64 height -> the validator set that signs block `height` (validators.py)."""
STK_VALIDATOR_PREFIX = b"stk/val/"
"""``stk/val/`` + lp(operator id) -> validator record."""
STK_CONS_PREFIX = b"stk/cons/"
"""``stk/cons/`` + lp(consensus address) -> operator id (a consensus key is used once ever)."""
STK_DELEGATION_PREFIX = b"stk/del/"
"""``stk/del/`` + lp(delegator) + lp(validator) -> delegation record."""
STK_UNBONDING_PREFIX = b"stk/ubd/"
"""``stk/ubd/`` + lp(validator) + lp(delegator) + u64 entry id -> unbonding entry."""
STK_UNBONDING_QUEUE_PREFIX = b"stk/ubq/"
"""``stk/ubq/`` + u64 completion time + u64 entry id -> unbonding entry key."""
STK_REDELEGATION_PREFIX = b"stk/red/"
"""``stk/red/`` + lp(source) + lp(delegator) + lp(destination) + u64 id -> redelegation entry."""
STK_REDELEGATION_QUEUE_PREFIX = b"stk/rdq/"
"""``stk/rdq/`` + u64 completion time + u64 entry id -> redelegation entry key."""
STK_VALIDATOR_QUEUE_PREFIX = b"stk/vuq/"
"""``stk/vuq/`` + u64 completion time + lp(operator id) -> empty (unbonding validators)."""
STK_FIXED_PREFIX = b"stk/fixed/"
"""``stk/fixed/`` + lp(consensus address) -> pub key ‖ u64 power of an unbacked genesis validator."""
STK_SEQ_KEY = b"stk/seq"
"""u64 next unbonding/redelegation entry id."""
SLASH_SIGNING_PREFIX = b"slh/info/"
"""``slh/info/`` + lp(consensus address) -> liveness record (missed-block bitmap)."""
ORACLE_PARAMS_KEY = b"orc/params"
"""Oracle parameters fixed at genesis (see state/oracle.py)."""
VOTE_EXTENSIONS_HEIGHT_KEY = b"meta/ve_height"
"""u64 `vote_extensions_enable_height` from InitChain's consensus params (0 = disabled)."""
ORACLE_PRICE_PREFIX = b"orc/price/"
"""``orc/price/`` + lp(underlying) -> latest aggregated price record."""
ORACLE_SEQ_PREFIX = b"orc/seq/"
"""``orc/seq/`` + lp(underlying) -> u64 count of price observations ever recorded."""
ORACLE_OBS_PREFIX = b"orc/obs/"
"""``orc/obs/`` + lp(underlying) + u64 sequence -> price observation (TWAP history ring)."""


#: Keys built on every transaction (accounts, balances, the fee pool) are memoized: they are
#: pure functions of their arguments, and building them was a fifth of a transfer's cost.
_HOT_KEY_CACHE = 1 << 16


def _lp(component: bytes) -> bytes:
    """One-byte length prefix; components are short by construction."""
    if len(component) > 255:
        raise ValueError(f"key component of {len(component)} bytes is too long")
    return bytes((len(component),)) + component


@lru_cache(maxsize=_HOT_KEY_CACHE)
def account_key(account_id: bytes) -> bytes:
    return ACCOUNT_PREFIX + _lp(account_id)


def balance_prefix(account_id: bytes) -> bytes:
    """Prefix of every balance of one account (iterate it for all its denoms)."""
    return BALANCE_PREFIX + _lp(account_id)


@lru_cache(maxsize=_HOT_KEY_CACHE)
def balance_key(account_id: bytes, denom: str) -> bytes:
    return balance_prefix(account_id) + _lp(denom.encode())


def split_balance_key(key: bytes) -> tuple[bytes, str]:
    """(account id, denom) of a key made by `balance_key`."""
    start = len(BALANCE_PREFIX)
    id_end = start + 1 + key[start]
    return key[start + 1 : id_end], key[id_end + 1 :].decode()


def supply_key(denom: str) -> bytes:
    return SUPPLY_PREFIX + _lp(denom.encode())


@lru_cache(maxsize=_HOT_KEY_CACHE)
def fee_pool_key(denom: str) -> bytes:
    return FEE_POOL_PREFIX + _lp(denom.encode())


def beacon_key(height: int) -> bytes:
    return BEACON_PREFIX + height.to_bytes(8, "big")


def param_key(name: str) -> bytes:
    return PARAM_PREFIX + _lp(name.encode())


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def valset_key(height: int) -> bytes:
    return VALSET_PREFIX + _u64(height)


def validator_key(operator_id: bytes) -> bytes:
    return STK_VALIDATOR_PREFIX + _lp(operator_id)


def cons_address_key(cons_address: bytes) -> bytes:
    return STK_CONS_PREFIX + _lp(cons_address)


def delegation_prefix(delegator_id: bytes) -> bytes:
    """Prefix of every delegation of one delegator (iterate it for all its validators)."""
    return STK_DELEGATION_PREFIX + _lp(delegator_id)


def delegation_key(delegator_id: bytes, validator_id: bytes) -> bytes:
    return delegation_prefix(delegator_id) + _lp(validator_id)


def split_delegation_key(key: bytes) -> tuple[bytes, bytes]:
    """(delegator id, validator id) of a key made by `delegation_key`."""
    start = len(STK_DELEGATION_PREFIX)
    end = start + 1 + key[start]
    return key[start + 1 : end], key[end + 1 :]


def unbonding_prefix(validator_id: bytes, delegator_id: bytes | None = None) -> bytes:
    """Prefix of a validator's unbonding entries (of one delegator when given)."""
    prefix = STK_UNBONDING_PREFIX + _lp(validator_id)
    return prefix if delegator_id is None else prefix + _lp(delegator_id)


def unbonding_key(validator_id: bytes, delegator_id: bytes, entry_id: int) -> bytes:
    return unbonding_prefix(validator_id, delegator_id) + _u64(entry_id)


def unbonding_queue_key(completion_ns: int, entry_id: int) -> bytes:
    return STK_UNBONDING_QUEUE_PREFIX + _u64(completion_ns) + _u64(entry_id)


def redelegation_prefix(source_id: bytes) -> bytes:
    return STK_REDELEGATION_PREFIX + _lp(source_id)


def redelegation_key(source_id: bytes, delegator_id: bytes, destination_id: bytes,
                     entry_id: int) -> bytes:
    return redelegation_prefix(source_id) + _lp(delegator_id) + _lp(destination_id) + _u64(entry_id)


def redelegation_queue_key(completion_ns: int, entry_id: int) -> bytes:
    return STK_REDELEGATION_QUEUE_PREFIX + _u64(completion_ns) + _u64(entry_id)


def validator_queue_key(completion_ns: int, operator_id: bytes) -> bytes:
    return STK_VALIDATOR_QUEUE_PREFIX + _u64(completion_ns) + _lp(operator_id)


def queue_time(key: bytes, prefix: bytes) -> int:
    """Completion time (ns) of a queue key made by one of the `*_queue_key` functions."""
    return int.from_bytes(key[len(prefix) : len(prefix) + 8], "big")


def fixed_validator_key(cons_address: bytes) -> bytes:
    return STK_FIXED_PREFIX + _lp(cons_address)


def signing_info_key(cons_address: bytes) -> bytes:
    return SLASH_SIGNING_PREFIX + _lp(cons_address)


def oracle_price_key(underlying: str) -> bytes:
    return ORACLE_PRICE_PREFIX + _lp(underlying.encode())


def oracle_seq_key(underlying: str) -> bytes:
    return ORACLE_SEQ_PREFIX + _lp(underlying.encode())


def oracle_obs_prefix(underlying: str) -> bytes:
    """Prefix of one underlying's observations; key order is sequence (= time) order."""
    return ORACLE_OBS_PREFIX + _lp(underlying.encode())


def oracle_obs_key(underlying: str, sequence: int) -> bytes:
    return oracle_obs_prefix(underlying) + sequence.to_bytes(8, "big")
