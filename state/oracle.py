"""Oracle state: genesis parameters, the stake-weighted median of validator observations,
the latest price per underlying and the history behind time-weighted average prices.

Stored records (keys in `state/keys.py`, integers big-endian):

- `ORACLE_PARAMS_KEY` -> canonical JSON of `OracleParams` (written at genesis);
- `oracle_price_key(u)` -> price_ticks u64 ‖ height u64 ‖ block time ns u64;
- `oracle_seq_key(u)` -> u64 number of observations ever recorded for `u`;
- `oracle_obs_key(u, seq)` -> the same 24-byte record, one per block that updated `u`.
  Only the newest `twap_history_len` observations are kept: recording sequence n deletes
  n − twap_history_len, so the history is a ring whose keys sort in time order.

Prices are integer ticks: micro-USD per unit of the underlying.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chain.oracle.extension import Observation, extension_size
from state import keys
from state.codec import decode_u64, encode_u64
from state.events import Event

PPM = 1_000_000
_UNDERLYING = re.compile(r"[A-Z][A-Z0-9]{0,15}")


class OracleState(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def set(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...


class ReadState(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class OracleParams:
    """Oracle settings fixed at genesis."""

    underlyings: tuple[str, ...] = ("BTC", "ETH")
    """Priced underlyings; an extension refers to them by position in this list."""
    min_power_share_ppm: int = 666_667
    """Share of the voting set's power that must report a price for it to update. Above 2/3
    so that, with less than 1/3 of the power faulty, honest reporters outweigh faulty ones
    and the median stays within the honest range."""
    twap_history_len: int = 7_200
    """Observations kept per underlying (two hours of one-second blocks: a 30-minute TWAP
    window with room for slower blocks)."""
    max_extension_bytes: int = 512
    """Largest accepted vote extension."""

    def problem(self) -> str | None:
        """Why these parameters cannot work, or None."""
        if not 1 <= len(self.underlyings) <= 255:
            return "underlyings must list 1 to 255 names"
        if len(set(self.underlyings)) != len(self.underlyings):
            return "underlyings must be distinct"
        for name in self.underlyings:
            if not _UNDERLYING.fullmatch(name):
                return f"underlying {name!r} must be 1-16 upper-case letters/digits"
        if not 1 <= self.min_power_share_ppm <= PPM:
            return f"min_power_share_ppm must be between 1 and {PPM}"
        if not 2 <= self.twap_history_len <= 1_000_000:
            return "twap_history_len must be between 2 and 1000000"
        if not extension_size(len(self.underlyings)) <= self.max_extension_bytes <= 65_536:
            return (f"max_extension_bytes must hold every underlying "
                    f"({extension_size(len(self.underlyings))} bytes) and be at most 65536")
        return None

    def to_json(self) -> dict[str, object]:
        return {
            "underlyings": list(self.underlyings),
            "min_power_share_ppm": str(self.min_power_share_ppm),
            "twap_history_len": str(self.twap_history_len),
            "max_extension_bytes": str(self.max_extension_bytes),
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> OracleParams:
        obj = json.loads(raw)
        return cls(
            underlyings=tuple(obj["underlyings"]),
            min_power_share_ppm=int(obj["min_power_share_ppm"]),
            twap_history_len=int(obj["twap_history_len"]),
            max_extension_bytes=int(obj["max_extension_bytes"]),
        )


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """A price as aggregated by the chain, with the height and block time it was set at."""

    price_ticks: int
    height: int
    time_ns: int

    def encode(self) -> bytes:
        return encode_u64(self.price_ticks) + encode_u64(self.height) + encode_u64(self.time_ns)

    @classmethod
    def decode(cls, raw: bytes) -> PriceRecord:
        if len(raw) != 24:
            raise ValueError(f"price record of {len(raw)} bytes, expected 24")
        return cls(decode_u64(raw[:8]), decode_u64(raw[8:16]), decode_u64(raw[16:]))


@dataclass(frozen=True, slots=True)
class Twap:
    """A time-weighted average price over [end_ns − window_ns, end_ns].

    `price_ticks` is rounded down. `covered_ns` is the part of the window the history
    reaches (less than `window_ns` when the first observation is younger than the window).
    """

    price_ticks: int
    window_ns: int
    end_ns: int
    covered_ns: int
    observations: int


@dataclass(frozen=True, slots=True)
class Vote:
    """One voter of the commit the oracle tx carries: its power and its observation."""

    power: int
    observation: Observation


# --- parameters ------------------------------------------------------------------------


def set_oracle_params(ws: OracleState, params: OracleParams) -> None:
    ws.set(keys.ORACLE_PARAMS_KEY, params.encode())


def get_oracle_params(ws: ReadState) -> OracleParams:
    """The genesis oracle parameters; the defaults for a state written before they existed."""
    raw = ws.get(keys.ORACLE_PARAMS_KEY)
    return OracleParams() if raw is None else OracleParams.decode(raw)


def set_vote_extensions_enable_height(ws: OracleState, height: int) -> None:
    ws.set(keys.VOTE_EXTENSIONS_HEIGHT_KEY, encode_u64(max(height, 0)))


def get_vote_extensions_enable_height(ws: ReadState) -> int:
    """The first height whose precommits carry extensions; 0 means never."""
    raw = ws.get(keys.VOTE_EXTENSIONS_HEIGHT_KEY)
    return 0 if raw is None else decode_u64(raw)


def is_oracle_tx_required(ws: ReadState, height: int) -> bool:
    """True if block `height` must start with an oracle tx: the commit of height − 1 it
    carries was made with vote extensions."""
    enable = get_vote_extensions_enable_height(ws)
    return enable > 0 and height - 1 >= enable


# --- aggregation -----------------------------------------------------------------------


def compute_weighted_median(points: Sequence[tuple[int, int]]) -> int:
    """The lower weighted median of (price, weight) points with positive weights: the
    smallest price p such that the points priced ≤ p carry at least half the total weight.

    With W the total weight and C(p) the weight at or below p, the rule C(p)·2 ≥ W stays in
    integers; the "lower" choice makes an exact half split resolve the same way everywhere.
    """
    if not points:
        raise ValueError("median of no points")
    total = sum(weight for _, weight in points)
    cumulative = 0
    for price, weight in sorted(points):
        cumulative += weight
        if cumulative * 2 >= total:
            return price
    raise AssertionError("unreachable: cumulative weight reaches the total")


def compute_aggregate(
    params: OracleParams, votes: Sequence[Vote], total_power: int
) -> tuple[tuple[int, int, int] | None, ...]:
    """Per underlying (in params order): (median price, reported power, total power), or
    None when the reporters hold less than `min_power_share_ppm` of `total_power`."""
    results: list[tuple[int, int, int] | None] = []
    for index in range(len(params.underlyings)):
        points = [
            (price, vote.power)
            for vote in votes
            if vote.power > 0 and (price := vote.observation.price_of(index)) is not None
        ]
        reported = sum(weight for _, weight in points)
        if not points or reported * PPM < params.min_power_share_ppm * total_power:
            results.append(None)
            continue
        results.append((compute_weighted_median(points), reported, total_power))
    return tuple(results)


def process_oracle_aggregate(
    ws: OracleState, votes: Sequence[Vote], total_power: int, *, height: int, time_ns: int
) -> list[Event]:
    """Store this block's aggregate prices and append them to the TWAP history."""
    params = get_oracle_params(ws)
    events: list[Event] = []
    for underlying, result in zip(params.underlyings, compute_aggregate(params, votes, total_power),
                                  strict=True):
        if result is None:
            continue
        price, reported, total = result
        record = PriceRecord(price, height, time_ns).encode()
        ws.set(keys.oracle_price_key(underlying), record)
        seq_raw = ws.get(keys.oracle_seq_key(underlying))
        sequence = 0 if seq_raw is None else decode_u64(seq_raw)
        ws.set(keys.oracle_obs_key(underlying, sequence), record)
        if sequence >= params.twap_history_len:
            ws.delete(keys.oracle_obs_key(underlying, sequence - params.twap_history_len))
        ws.set(keys.oracle_seq_key(underlying), encode_u64(sequence + 1))
        events.append(Event("oracle_price", (
            ("underlying", underlying), ("price_ticks", str(price)),
            ("reported_power", str(reported)), ("total_power", str(total)),
        )))
    return events


# --- reads -----------------------------------------------------------------------------


def get_price(ws: ReadState, underlying: str) -> PriceRecord | None:
    """The latest aggregated price of `underlying`, None if it never had one."""
    raw = ws.get(keys.oracle_price_key(underlying))
    return None if raw is None else PriceRecord.decode(raw)


def get_twap(ws: ReadState, underlying: str, window_ns: int, end_ns: int) -> Twap | None:
    """Time-weighted average price over [end_ns − window_ns, end_ns], rounded down.

    Each observation's price holds from its block time until the next observation's (the
    newest until `end_ns`, normally the current block time). The average is
    Σ pᵢ·|[tᵢ, tᵢ₊₁) ∩ window| / covered, in integers, floor division last. When the whole
    covered span is empty (window 0, or the only observation is at `end_ns`) the result is
    the price in force at `end_ns`. None if no observation at or before `end_ns` exists.
    """
    if window_ns < 0:
        raise ValueError("window cannot be negative")
    seq_raw = ws.get(keys.oracle_seq_key(underlying))
    if seq_raw is None:
        return None
    start_ns = end_ns - window_ns
    params = get_oracle_params(ws)
    sequence = decode_u64(seq_raw)
    oldest = max(0, sequence - params.twap_history_len)
    weighted = 0
    covered_from = end_ns
    segment_end = end_ns
    in_force: int | None = None
    used = 0
    for seq in range(sequence - 1, oldest - 1, -1):
        raw = ws.get(keys.oracle_obs_key(underlying, seq))
        if raw is None:
            break
        obs = PriceRecord.decode(raw)
        if obs.time_ns > end_ns:
            continue  # younger than the window's end: not yet in force
        if in_force is None:
            in_force = obs.price_ticks
        begin = max(obs.time_ns, start_ns)
        if segment_end > begin:
            weighted += obs.price_ticks * (segment_end - begin)
            used += 1
        covered_from = begin
        segment_end = obs.time_ns
        if obs.time_ns <= start_ns:
            break
    if in_force is None:
        return None
    covered = end_ns - covered_from
    price = in_force if covered == 0 else weighted // covered
    return Twap(price_ticks=price, window_ns=window_ns, end_ns=end_ns, covered_ns=covered,
                observations=max(used, 1))
