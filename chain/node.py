"""The application process of one validator: read `<home>/config/app.toml`, open the store,
serve the app to CometBFT over ABCI until stopped.

app.toml keys (all optional):
    abci_address = "tcp://127.0.0.1:26658"   # CometBFT's proxy_app points here
    db_path      = "data/optio.db"           # relative to home
    log_level    = "info"
    check_invariants = false                 # check supply conservation after every block
    vdf_precompute = true                    # evaluate the empty-block VDF after each block
    vdf_deadline_ms = 1000                   # proposer: past this, propose without user txs
                                             # (fallback for a slow proposal, docs/ordering.md)
    vdf_head_start = true                    # likely next proposer: start its VDF early

    [oracle]                                 # the price feeder (chain/oracle/feeder.py)
    source = "sim"                           # none | sim | file | http
    max_age_s = 10.0                         # older prices are not sent (abstain)
    sim_seed = 1                             # sim: shared walk; sim_bias_ppm skews this node
    file_path = "prices.json"                # file: relative to home
    http_url = "http://127.0.0.1:8080/prices"
"""

from __future__ import annotations

import gc
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from abci.server import run
from chain.app import OptioApp
from chain.oracle.feeder import OracleConfig, make_feeder
from state.store import Store

log = logging.getLogger("optio.node")

# gen0, gen1, gen2 thresholds of the cyclic GC in a node process (CPython: 700, 10, 10).
_GC_THRESHOLDS = (20_000, 20, 10)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    abci_address: str = "tcp://127.0.0.1:26658"
    db_path: str = "data/optio.db"
    log_level: str = "info"
    check_invariants: bool = False
    vdf_precompute: bool = True
    vdf_deadline_ms: int = 1000
    vdf_head_start: bool = True
    oracle: OracleConfig = field(default_factory=OracleConfig)


def load_config(home: Path) -> NodeConfig:
    """Read `<home>/config/app.toml`; a missing file means the defaults."""
    path = home / "config" / "app.toml"
    if not path.exists():
        return NodeConfig()
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    unknown = sorted(set(raw) - set(NodeConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    if "oracle" in raw:
        raw["oracle"] = OracleConfig.from_mapping(raw["oracle"])
    return NodeConfig(**raw)


def run_node(home: Path) -> None:
    """Serve the Optio app for the validator whose home is `home` until SIGINT/SIGTERM.

    Exits the process with status 1 if the application fails (CometBFT then stops too)."""
    config = load_config(home)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    db_path = home / config.db_path
    db_path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(db_path)
    log.info("optio app: height %d, app hash %s, serving ABCI on %s",
             store.last_height, store.last_app_hash.hex().upper(), config.abci_address)
    try:
        app = OptioApp(store, check_invariants=config.check_invariants,
                       feeder=make_feeder(config.oracle, home=home),
                       precompute_vdf=config.vdf_precompute,
                       vdf_deadline_s=config.vdf_deadline_ms / 1000,
                       vdf_head_start=config.vdf_head_start, offload=True)
        _tune_gc()
        run(app, config.abci_address)
    finally:
        store.close()


def _tune_gc() -> None:
    """Make the cyclic garbage collector run less often: under load the app allocates
    millions of short-lived objects per second (decoded txs, protobuf messages), which die by
    reference counting, and with CPython's defaults full collections over the long-lived heap
    (the decode cache, key caches) stalled the event loop for up to 210 ms several times a
    minute (measured with gc.callbacks). Objects alive at start-up are frozen out of it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)
