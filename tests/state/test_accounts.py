"""Accounts: nonce window for out-of-order bot traffic, balances, fees, supply conservation."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chain.tx import decode_tx
from genesis.process import process_genesis
from genesis.schema import AppGenesis, GenesisAccount
from state.accounts import (
    Account,
    get_account,
    get_balance,
    get_balances,
    get_fee_pool,
    get_next_nonce,
    get_supply,
    is_supply_change_conserved,
    is_supply_conserved,
    process_tx,
)
from chain.address import parse_address
from state.codec import decode_u64, encode_u64
from state.denoms import Coin
from state.keys import balance_key, fee_pool_key, supply_key
from state.errors import NonceReplayed, NonceTooFarAhead, NonceTooOld, OptioError
from state.params import Params, get_params
from state.store import Store, WorkingState
from tests.state.test_accounts_errors import (  # noqa: F401  (ws is a fixture)
    CHAIN,
    FEE,
    OTHER_ADDR,
    POOR,
    POOR_ADDR,
    RICH,
    RICH_ADDR,
    body_with,
    coin_msg,
    send,
    signed_body,
    submit,
    ws,
)


def test_new_account_starts_at_nonce_one(ws: WorkingState) -> None:
    assert get_next_nonce(ws, RICH_ADDR) == 1
    assert get_account(ws, RICH_ADDR) == Account(max_nonce=0, used=0, window=256)


def test_nonces_inside_the_window_are_accepted_in_any_order(ws: WorkingState) -> None:
    for nonce in (3, 1, 5, 2, 4):
        submit(ws, send(nonce=nonce))
    assert get_next_nonce(ws, RICH_ADDR) == 6
    assert get_fee_pool(ws, "uusd") == 5 * FEE


def test_each_nonce_is_accepted_once_even_out_of_order(ws: WorkingState) -> None:
    submit(ws, send(nonce=5))
    submit(ws, send(nonce=2))
    for nonce in (5, 2):
        with pytest.raises(NonceReplayed):
            submit(ws, send(nonce=nonce, memo="different bytes, same nonce"))


def test_window_slides_with_the_highest_nonce(ws: WorkingState) -> None:
    submit(ws, send(nonce=200))
    submit(ws, send(nonce=400))
    with pytest.raises(NonceTooOld):
        submit(ws, send(nonce=144))
    submit(ws, send(nonce=145))
    assert get_next_nonce(ws, RICH_ADDR) == 401


def test_jump_ahead_is_bounded_from_the_highest_used_nonce(ws: WorkingState) -> None:
    submit(ws, send(nonce=256))
    with pytest.raises(NonceTooFarAhead):
        submit(ws, send(nonce=513))
    submit(ws, send(nonce=512))


def test_accounts_have_independent_nonces(ws: WorkingState) -> None:
    submit(ws, send(nonce=1))
    submit(ws, send(POOR, nonce=1, amount=1))
    assert (get_next_nonce(ws, RICH_ADDR), get_next_nonce(ws, POOR_ADDR)) == (2, 2)


class ReferenceNonces:
    """Naive model of the rule in docs/transactions.md: a set of every nonce ever used."""

    def __init__(self, window: int, ahead: int) -> None:
        self.window = window
        self.ahead = ahead
        self.used: set[int] = set()

    def accepts(self, nonce: int) -> bool:
        highest = max(self.used, default=0)
        lowest = max(1, highest - self.window + 1)
        return nonce not in self.used and lowest <= nonce <= highest + self.ahead


@settings(max_examples=300)
@given(
    st.sampled_from([8, 16, 64]),
    st.integers(min_value=1, max_value=40),
    st.lists(st.integers(min_value=1, max_value=300), max_size=60),
)
def test_bitmap_window_matches_the_reference_rule(window: int, ahead: int, nonces: list[int]) -> None:
    account = Account.new(window)
    model = ReferenceNonces(window, ahead)
    for nonce in nonces:
        accepted = (
            not account.is_nonce_used(nonce)
            and account.lowest_acceptable_nonce <= nonce <= account.max_nonce + ahead
        )
        assert accepted == model.accepts(nonce)
        if accepted:
            account = account.with_nonce_used(nonce)
            model.used.add(nonce)
        assert Account.decode(account.encode()) == account
    assert account.next_nonce == max(model.used, default=0) + 1


def test_account_record_is_max_nonce_then_bitmap() -> None:
    account = Account.new(16).with_nonce_used(3).with_nonce_used(1)
    assert account.encode() == (3).to_bytes(8, "big") + (0b101).to_bytes(2, "big")


def test_send_moves_coins_and_fee_goes_to_the_pool(ws: WorkingState) -> None:
    rich_before = get_balance(ws, RICH_ADDR, "uusd")
    submit(ws, send(amount=1_000, fee=250))
    assert get_balance(ws, RICH_ADDR, "uusd") == rich_before - 1_250
    assert get_balance(ws, OTHER_ADDR, "uusd") == 1_000
    assert get_fee_pool(ws, "uusd") == 250


def test_spending_a_whole_balance_removes_it(ws: WorkingState) -> None:
    body = body_with(coin_msg("uopt", "7", POOR_ADDR), coin_msg("uusd", "50", POOR_ADDR))
    submit(ws, signed_body(POOR, body))
    assert get_balances(ws, POOR_ADDR) == ()
    assert get_balances(ws, OTHER_ADDR) == (Coin("uopt", 7), Coin("uusd", 50))


def test_send_to_self_only_costs_the_fee(ws: WorkingState) -> None:
    before = get_balance(ws, RICH_ADDR, "uusd")
    submit(ws, send(to=RICH_ADDR, amount=10**6))
    assert get_balance(ws, RICH_ADDR, "uusd") == before - FEE


def test_receipt_events_describe_the_fee_and_transfer(ws: WorkingState) -> None:
    receipt = submit(ws, send(amount=42, nonce=3))
    assert [e.type for e in receipt.events] == ["tx", "transfer"]
    assert receipt.events[0].attributes == (("signer", RICH_ADDR), ("nonce", "3"), ("fee", f"{FEE}uusd"))
    assert receipt.events[1].attributes == (
        ("sender", RICH_ADDR),
        ("recipient", OTHER_ADDR),
        ("amount", "42uusd"),
    )


def _committed_genesis(path: str) -> Store:
    """A store holding the two-account genesis, committed at height 1."""
    store = Store(path)
    working = store.working()
    process_genesis(
        working,
        AppGenesis(
            params=Params(min_fee_uusd=FEE),
            accounts=(
                GenesisAccount(RICH_ADDR, (Coin("uopt", 10**6), Coin("uusd", 10**6))),
                GenesisAccount(POOR_ADDR, (Coin("uopt", 100), Coin("uusd", 500))),
            ),
        ),
        chain_id=CHAIN,
    )
    store.commit(working, 1)
    return store


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from(["uusd", "uopt"]),
            st.integers(min_value=1, max_value=200),
            st.integers(min_value=FEE, max_value=FEE + 50),
        ),
        max_size=12,
    )
)
def test_sends_and_fees_conserve_supply(
    tmp_path_factory: pytest.TempPathFactory, txs: list[tuple[bool, str, int, int]]
) -> None:
    """After every tx, both checks hold: the full one and the one of the block's writes."""
    store = _committed_genesis(str(tmp_path_factory.mktemp("supply")) + "/db")
    working = store.working()
    supply = {denom: get_supply(working, denom) for denom in ("uusd", "uopt")}
    nonces = {True: 0, False: 0}
    for from_poor, denom, amount, fee in txs:
        nonces[from_poor] += 1
        key, to = (POOR, RICH_ADDR) if from_poor else (RICH, POOR_ADDR)
        try:
            submit(working, send(key, nonce=nonces[from_poor], to=to, denom=denom, amount=amount, fee=fee))
        except OptioError:
            nonces[from_poor] -= 1
        assert is_supply_conserved(working)
        assert is_supply_change_conserved(working)
        assert {denom: get_supply(working, denom) for denom in supply} == supply
    store.close()


@settings(max_examples=40, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=50),
    where=st.sampled_from(["balance", "new balance", "fee pool", "supply"]),
    denom=st.sampled_from(["uusd", "uopt"]),
    change=st.integers(min_value=-3, max_value=3),
)
def test_the_check_of_a_blocks_writes_agrees_with_the_full_check(
    tmp_path_factory: pytest.TempPathFactory, amount: int, where: str, denom: str, change: int
) -> None:
    """A transfer, then one amount changed by `change` behind the ledger's back: the check
    of the writes alone finds exactly what the full check finds."""
    store = _committed_genesis(str(tmp_path_factory.mktemp("supply")) + "/db")
    working = store.working()
    submit(working, send(RICH, nonce=1, to=POOR_ADDR, denom=denom, amount=amount, fee=FEE))
    key = {
        "balance": balance_key(parse_address(POOR_ADDR), denom),
        "new balance": balance_key(parse_address(OTHER_ADDR), denom),
        "fee pool": fee_pool_key(denom),
        "supply": supply_key(denom),
    }[where]
    before = working.get(key)
    held = 0 if before is None else decode_u64(before)
    assume(held + change >= 0)
    working.set(key, encode_u64(held + change + 10))
    working.set(key, encode_u64(held + change))
    assert is_supply_change_conserved(working) == is_supply_conserved(working) == (change == 0)
    store.close()


def test_the_check_of_a_blocks_writes_refuses_an_unknown_denom(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    store = _committed_genesis(str(tmp_path_factory.mktemp("supply")) + "/db")
    working = store.working()
    working.set(fee_pool_key("ufake"), encode_u64(1))
    assert not is_supply_change_conserved(working)
    store.close()


def test_passing_params_gives_the_same_result_as_reading_them(ws: WorkingState) -> None:
    tx = decode_tx(send(nonce=4), CHAIN, 16_384)
    with ws.transaction():
        receipt = process_tx(ws, tx, height=3, params=get_params(ws))
    assert receipt.fee == FEE
    with pytest.raises(NonceReplayed):
        process_tx(ws, tx, height=3)


def test_without_events_a_tx_does_the_same_and_reports_none(ws: WorkingState) -> None:
    """CheckTx drops a tx's events: `events=False` skips them and changes nothing else."""
    with_events = ws.overlay()
    without = ws.overlay()
    for nonce in (1, 2):
        tx = decode_tx(send(nonce=nonce, to=POOR_ADDR, amount=7), CHAIN, 16_384)
        with with_events.transaction():
            full = process_tx(with_events, tx, height=3)
        with without.transaction():
            bare = process_tx(without, tx, height=3, events=False)
        assert [e.type for e in full.events] == ["tx", "transfer"]
        assert bare.events == () and bare.fee == full.fee
    assert with_events.staged_items() == without.staged_items()
    with pytest.raises(NonceReplayed):
        process_tx(without, tx, height=3, events=False)
