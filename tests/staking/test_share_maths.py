"""Share/token arithmetic and set ranking: pure functions, property-tested. No sequence of
bonds, unbonds and slashes lets a user take out more than they put in, and slashing takes the
same proportion from everyone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from state.staking import (
    compute_active_set,
    compute_shares_burnt_round_up,
    compute_shares_issued_round_down,
    compute_slash_round_up,
    compute_tokens_round_down,
    compute_updates,
)
from state.validators import Validator, apply_updates

amounts = st.integers(min_value=1, max_value=10**15)
fractions = st.integers(min_value=0, max_value=1_000_000)


@given(amounts, amounts, amounts)
def test_bonding_never_buys_more_than_it_pays(tokens: int, extra: int, amount: int) -> None:
    shares = compute_shares_issued_round_down(tokens, 0, 0)
    tokens += extra  # e.g. dust left by earlier round-downs
    issued = compute_shares_issued_round_down(amount, tokens, shares)
    assert compute_tokens_round_down(issued, tokens + amount, shares + issued) <= amount


@given(amounts, amounts, st.integers(min_value=0, max_value=10**15))
def test_unbonding_burns_at_least_the_fair_number_of_shares(
    tokens: int, extra_shares: int, amount: int
) -> None:
    shares = tokens * 10**6 + extra_shares
    amount = min(amount, tokens)
    burnt = compute_shares_burnt_round_up(amount, tokens, shares)
    assert burnt * tokens >= amount * shares  # burnt / shares ≥ amount / tokens
    assert burnt <= shares


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(["bond", "unbond", "slash"]), st.integers(0, 3),
                          amounts, fractions), max_size=40))
def test_no_sequence_of_bonds_unbonds_and_slashes_pays_a_user_more_than_they_paid(
    ops: list[tuple[str, int, int, int]],
) -> None:
    tokens, shares = 0, 0
    held = [0, 0, 0, 0]
    paid_in = [0, 0, 0, 0]
    taken_out = [0, 0, 0, 0]
    for kind, user, amount, fraction in ops:
        if kind == "bond":
            if tokens == 0 and shares > 0:
                continue  # insolvent: refused by the state machine
            issued = compute_shares_issued_round_down(amount, tokens, shares)
            if issued == 0:
                continue
            held[user] += issued
            shares += issued
            tokens += amount
            paid_in[user] += amount
        elif kind == "unbond":
            worth = compute_tokens_round_down(held[user], tokens, shares)
            amount = min(amount, worth)
            if amount == 0:
                continue
            burnt = compute_shares_burnt_round_up(amount, tokens, shares)
            assert burnt <= held[user]
            held[user] -= burnt
            shares -= burnt
            tokens -= amount
            taken_out[user] += amount
        else:
            tokens -= min(tokens, compute_slash_round_up(tokens, fraction))
        assert sum(held) == shares
        # Everything users could still take out is covered by the tokens.
        assert sum(compute_tokens_round_down(h, tokens, shares) for h in held) <= tokens
    for user in range(4):
        final = compute_tokens_round_down(held[user], tokens, shares)
        assert taken_out[user] + final <= paid_in[user]


@given(amounts, amounts, fractions)
def test_a_slash_takes_the_same_proportion_from_every_delegator(
    a: int, b: int, fraction: int
) -> None:
    tokens = a + b
    sa, sb = compute_shares_issued_round_down(a, 0, 0), 0
    sb = compute_shares_issued_round_down(b, a, sa)
    shares = sa + sb
    tokens_after = tokens - compute_slash_round_up(tokens, fraction)
    for held, paid in ((sa, a), (sb, b)):
        after = compute_tokens_round_down(held, tokens_after, shares)
        # Value after ≤ value × (1 − fraction): rounding never favours the delegator.
        assert after * 1_000_000 <= paid * (1_000_000 - fraction) + 1_000_000


def test_slash_amounts_round_up() -> None:
    assert compute_slash_round_up(1, 1) == 1
    assert compute_slash_round_up(1_000_000, 50_000) == 50_000
    assert compute_slash_round_up(0, 1_000_000) == 0


def _v(i: int, power: int) -> Validator:
    return Validator.of(bytes([i]) * 32, power)


def test_ranking_takes_top_power_then_tokens_then_lowest_address() -> None:
    a, b, c, d = _v(1, 10), _v(2, 10), _v(3, 10), _v(4, 20)
    ordered = sorted([a, b, c], key=lambda v: v.address)
    chosen = compute_active_set([(a, 10_000_000), (b, 10_000_000), (c, 10_000_000),
                                 (d, 20_000_000)], 3)
    assert chosen[0] == d
    assert set(chosen[1:]) == set(ordered[:2])
    # More tokens at equal power wins over a lower address.
    richer = compute_active_set([(ordered[0], 10_000_000), (ordered[2], 10_999_999)], 1)
    assert richer == (ordered[2],)


@given(st.permutations(list(range(1, 9))))
def test_ranking_does_not_depend_on_input_order(order: list[int]) -> None:
    candidates = [(_v(i, 5 + i % 3), (5 + i % 3) * 10**6) for i in order]
    reference = [(_v(i, 5 + i % 3), (5 + i % 3) * 10**6) for i in range(1, 9)]
    assert compute_active_set(candidates, 4) == compute_active_set(reference, 4)


def test_zero_power_never_ranks() -> None:
    assert compute_active_set([(_v(1, 0), 999_999)], 5) == ()


@given(st.lists(st.tuples(st.integers(1, 12), st.integers(0, 5)), max_size=12),
       st.lists(st.tuples(st.integers(1, 12), st.integers(1, 5)), max_size=12))
def test_updates_turn_the_old_set_into_the_new_with_each_key_once(
    old: list[tuple[int, int]], new: list[tuple[int, int]],
) -> None:
    before = tuple({i: _v(i, p) for i, p in old if p}.values())
    after = tuple({i: _v(i, p) for i, p in new}.values())
    updates = compute_updates(before, after)
    assert len({u.address for u in updates}) == len(updates)
    assert set(apply_updates(before, updates)) == set(after)
