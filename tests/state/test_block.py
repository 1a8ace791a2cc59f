"""The block clock in state: recorded each block, never moving backwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from state.block import BlockHeader, get_block_header, process_block_header
from state.store import Store


def test_block_header_round_trips_and_moves_forward(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    ws = store.working()
    assert get_block_header(ws) is None
    process_block_header(ws, BlockHeader(1, 1_700_000_000_000_000_000))
    process_block_header(ws, BlockHeader(2, 1_700_000_000_500_000_000))
    assert get_block_header(ws) == BlockHeader(2, 1_700_000_000_500_000_000)
    store.commit(ws, 2)
    assert get_block_header(store.working()) == BlockHeader(2, 1_700_000_000_500_000_000)
    store.close()


@pytest.mark.parametrize("header", [BlockHeader(2, 5), BlockHeader(4, 9)])
def test_block_clock_going_backwards_is_a_bug(tmp_path: Path, header: BlockHeader) -> None:
    store = Store(tmp_path / "db")
    ws = store.working()
    process_block_header(ws, BlockHeader(3, 10))
    with pytest.raises(RuntimeError, match="backwards"):
        process_block_header(ws, header)
    store.close()
