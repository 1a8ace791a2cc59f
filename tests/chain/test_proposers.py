"""The proposer forecast against CometBFT's weighted round-robin over a fixed validator set
(spec/consensus/proposer-selection.md: each height every priority grows by its power, the
highest proposes, ties to the lower address, and pays the total power back)."""

from __future__ import annotations

import math

import pytest

from chain.proposers import ProposerForecast


def round_robin(powers: dict[bytes, int], heights: int) -> list[bytes]:
    priority = dict.fromkeys(powers, 0)
    total = sum(powers.values())
    proposers = []
    for _ in range(heights):
        for address, power in powers.items():
            priority[address] += power
        chosen = max(sorted(priority), key=lambda a: priority[a])
        priority[chosen] -= total
        proposers.append(chosen)
    return proposers


@pytest.mark.parametrize("powers", [
    {b"A": 10},
    {b"A": 10, b"B": 10, b"C": 10, b"D": 10},
    {b"A": 2, b"B": 1},
    {b"A": 5, b"B": 3, b"C": 1, b"D": 1},
])
def test_after_three_periods_the_forecast_names_the_next_proposer(powers: dict[bytes, int]) -> None:
    sequence = round_robin(powers, 120)
    period = sum(powers.values()) // math.gcd(*powers.values())  # a bound of the true period
    forecast = ProposerForecast()
    right = []
    for height, proposer in enumerate(sequence, start=1):
        if height > 3 * period:
            right.append(forecast.next_proposer() == proposer)
        forecast.record(height, proposer)
    assert right and all(right)


def test_no_forecast_without_a_repeating_record_or_after_a_gap() -> None:
    forecast = ProposerForecast()
    for height, proposer in enumerate([b"A", b"B", b"A", b"B", b"A"], start=1):
        forecast.record(height, proposer)
    assert forecast.next_proposer() is None  # two repetitions only
    forecast.record(6, b"B")
    assert forecast.next_proposer() == b"A"
    forecast.record(9, b"B")  # heights 7 and 8 were missed
    assert forecast.next_proposer() is None
