"""Shared fixtures of the ordering tests: a small T keeps every proof in the milliseconds."""

from __future__ import annotations

import hashlib

import pytest

from chain import ordering

CHAIN_ID = "optio-test"
HEIGHT = 7
PREV_APP_HASH = hashlib.sha256(b"previous app hash").digest()
T = 500
BITS = 1024


def user_txs(count: int, tag: bytes = b"tx") -> list[bytes]:
    """Stand-in user txs: only their bytes (hence hashes) matter to the ordering."""
    return [b"\x0a" + tag + i.to_bytes(4, "big") for i in range(count)]


def honest_block(txs: list[bytes], *, prev_app_hash: bytes = PREV_APP_HASH,
                 height: int = HEIGHT) -> list[bytes]:
    order = ordering.prepare_block_order(
        txs, chain_id=CHAIN_ID, height=height, prev_app_hash=prev_app_hash,
        iterations=T, discriminant_bits=BITS)
    return order.txs()


def check(txs: list[bytes], **overrides: object) -> ordering.BlockOrder:
    kwargs: dict[str, object] = dict(chain_id=CHAIN_ID, height=HEIGHT,
                                     prev_app_hash=PREV_APP_HASH, iterations=T,
                                     discriminant_bits=BITS)
    kwargs.update(overrides)
    return ordering.check_block_order(txs, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def block_20() -> list[bytes]:
    """An honest block of 20 user txs: [ordering tx, user txs in VDF order]."""
    return honest_block(user_txs(20))
