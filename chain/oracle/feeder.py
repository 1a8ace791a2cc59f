"""The price feeder of one validator: where its ExtendVote observation comes from.

Off consensus: a feeder reads the wall clock, files and the network, and different validators
see different prices. Only the chain's stake-weighted median of their signed observations
enters state. A feeder never sends a stale price: an underlying without a price younger than
`max_age_s` is left out of the observation (the validator abstains for it).

Sources (app.toml `[oracle]`, `source = ...`):

- `sim`: a seeded random walk per underlying for development networks. The walk is a function
  of the wall-clock step number (sum of the last `sim_window` hashed ±`sim_step_ppm` steps on
  top of the start price), so nodes with the same seed follow the same path without talking to
  each other; `sim_bias_ppm` skews one node's view (localnets give each node a small
  different bias so the feeds disagree; a large one makes a wild feeder).
- `file`: a JSON file the operator (or a script) rewrites: `{"BTC": "97123.5", ...}` with the
  file's modification time as the observation time, or `{"BTC": {"price": "97123.5",
  "time": <unix seconds>}}` with explicit times.
- `http`: the same JSON from an HTTP GET endpoint, polled every `http_poll_s` by a background
  thread with a `http_timeout_s` timeout; the last good answer per underlying is kept and
  used until it is older than `max_age_s`.
- `none`: always abstain.

Prices are decimal USD in the sources and integer ticks (micro-USD, rounded half up) on chain.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

from chain.oracle.extension import MAX_PRICE_TICKS, Observation

log = logging.getLogger("optio.oracle")

TICKS_PER_USD = 1_000_000
SOURCES = ("none", "sim", "file", "http")


@dataclass(frozen=True, slots=True)
class OracleConfig:
    """The `[oracle]` section of app.toml."""

    source: str = "none"
    max_age_s: float = 10.0
    sim_seed: int = 1
    sim_prices: str = "BTC=100000,ETH=3000"
    sim_bias_ppm: int = 0
    sim_step_ppm: int = 500
    sim_step_s: float = 1.0
    sim_window: int = 64
    file_path: str = ""
    http_url: str = ""
    http_timeout_s: float = 1.0
    http_poll_s: float = 1.0

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> OracleConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"[oracle]: unknown setting(s) {', '.join(unknown)}")
        config = cls(**dict(raw))
        if config.source not in SOURCES:
            raise ValueError(f"[oracle] source must be one of {', '.join(SOURCES)}")
        if config.source == "file" and not config.file_path:
            raise ValueError("[oracle] source = \"file\" needs file_path")
        if config.source == "http" and not config.http_url:
            raise ValueError("[oracle] source = \"http\" needs http_url")
        return config


def usd_to_ticks(value: object) -> int | None:
    """Integer micro-USD of a decimal price (string or number), None if not a usable price."""
    if isinstance(value, bool):
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return None
    if not price.is_finite() or price <= 0:
        return None
    ticks = int((price * TICKS_PER_USD).to_integral_value(ROUND_HALF_UP))
    return ticks if 1 <= ticks <= MAX_PRICE_TICKS else None


class PriceSource(Protocol):
    def read(self, now: float) -> dict[str, tuple[int, float]]:
        """Per underlying: (price ticks, unix time observed)."""
        ...


class SimSource:
    """Deterministic random walk per underlying, indexed by the wall-clock step number."""

    def __init__(self, config: OracleConfig) -> None:
        self._config = config
        self._start: dict[str, int] = {}
        for item in filter(None, (p.strip() for p in config.sim_prices.split(","))):
            name, _, price = item.partition("=")
            ticks = usd_to_ticks(price)
            if ticks is None:
                raise ValueError(f"[oracle] sim_prices: bad price in {item!r}")
            self._start[name.strip()] = ticks

    def _step(self, underlying: str, k: int) -> int:
        digest = hashlib.sha256(f"{self._config.sim_seed}/{underlying}/{k}".encode()).digest()
        return 1 if digest[0] & 1 else -1

    def read(self, now: float) -> dict[str, tuple[int, float]]:
        config = self._config
        k = int(now // config.sim_step_s)
        out: dict[str, tuple[int, float]] = {}
        for name, start in self._start.items():
            walk = sum(self._step(name, j) for j in range(k - config.sim_window + 1, k + 1))
            ppm = 1_000_000 + walk * config.sim_step_ppm + config.sim_bias_ppm
            out[name] = (max(1, min(MAX_PRICE_TICKS, start * ppm // 1_000_000)), now)
        return out


def parse_price_document(doc: object, default_time: float) -> dict[str, tuple[int, float]]:
    """Prices of a `file`/`http` JSON document; entries that are not usable are skipped."""
    out: dict[str, tuple[int, float]] = {}
    if not isinstance(doc, dict):
        return out
    for name, entry in doc.items():
        observed = default_time
        value = entry
        if isinstance(entry, dict):
            value = entry.get("price")
            stamp = entry.get("time", default_time)
            if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
                continue
            observed = float(stamp)
        ticks = usd_to_ticks(value)
        if isinstance(name, str) and ticks is not None:
            out[name] = (ticks, observed)
    return out


class FileSource:
    def __init__(self, path: Path) -> None:
        self._path = path

    def read(self, now: float) -> dict[str, tuple[int, float]]:
        try:
            mtime = self._path.stat().st_mtime
            doc = json.loads(self._path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("oracle file %s unreadable: %s", self._path, exc)
            return {}
        return parse_price_document(doc, mtime)


class HttpSource:
    """Polls `url` in a daemon thread; `read` never blocks on the network."""

    def __init__(self, url: str, *, timeout_s: float, poll_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._url = url
        self._timeout = timeout_s
        self._poll = poll_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_good: dict[str, tuple[int, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> None:
        """Fetch once and merge what is usable into the last-good prices."""
        try:
            with urllib.request.urlopen(self._url, timeout=self._timeout) as response:
                doc = json.loads(response.read())
        except (OSError, ValueError) as exc:
            log.warning("oracle endpoint %s failed: %s (keeping last good prices)", self._url, exc)
            return
        fresh = parse_price_document(doc, self._clock())
        with self._lock:
            for name, (ticks, observed) in fresh.items():
                previous = self._last_good.get(name)
                if previous is None or observed >= previous[1]:
                    self._last_good[name] = (ticks, observed)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="oracle-http", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self._poll)

    def read(self, now: float) -> dict[str, tuple[int, float]]:
        with self._lock:
            return dict(self._last_good)


class Feeder:
    """Turns a source's prices into this validator's observation for ExtendVote."""

    def __init__(self, source: PriceSource | None, *, max_age_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._source = source
        self._max_age = max_age_s
        self._clock = clock

    def observe(self, underlyings: Sequence[str]) -> Observation:
        """Fresh prices for the listed underlyings (by position); stale or missing ones are
        left out. Never raises: a broken feed means abstaining, not a failed vote."""
        if self._source is None:
            return Observation()
        now = self._clock()
        try:
            prices = self._source.read(now)
        except Exception:  # noqa: BLE001 - a feed failure must never stop the validator
            log.exception("oracle source failed; abstaining")
            return Observation()
        chosen: list[tuple[int, int]] = []
        for index, name in enumerate(underlyings):
            entry = prices.get(name)
            if entry is None:
                continue
            ticks, observed = entry
            if now - observed > self._max_age or observed - now > self._max_age:
                continue
            chosen.append((index, ticks))
        return Observation(tuple(chosen))


def make_feeder(config: OracleConfig, *, home: Path | None = None) -> Feeder:
    """The feeder `config` describes (relative file paths are under the node home)."""
    source: PriceSource | None
    if config.source == "sim":
        source = SimSource(config)
    elif config.source == "file":
        path = Path(config.file_path)
        source = FileSource(path if path.is_absolute() or home is None else home / path)
    elif config.source == "http":
        http = HttpSource(config.http_url, timeout_s=config.http_timeout_s,
                          poll_s=config.http_poll_s)
        http.start()
        source = http
    else:
        source = None
    return Feeder(source, max_age_s=config.max_age_s)
