"""Per-node settings of a localnet and the rewriting of CometBFT's config.toml.

CometBFT writes a fully commented config.toml; we keep the file (and its
comments) and only replace the values of the keys we care about, section by
section, so an operator reading it sees the upstream documentation. The app's
own ``config/app.toml`` is small and written whole.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_PORT = 26650
PORT_STRIDE = 10

# Fast blocks on a shared 2-core machine with four validators in Python: short
# commit pause, but propose/vote timeouts long enough that a slow app answer does
# not make every round fail.
CONSENSUS_TIMEOUTS: dict[str, str] = {
    "timeout_propose": "2s",
    "timeout_propose_delta": "200ms",
    "timeout_prevote": "500ms",
    "timeout_prevote_delta": "200ms",
    "timeout_precommit": "500ms",
    "timeout_precommit_delta": "200ms",
    "timeout_commit": "300ms",
}


@dataclass(frozen=True, slots=True)
class NodePorts:
    """The loopback ports of node ``index``: node i uses base + 10 i + {6, 7, 8, 9}."""

    p2p: int
    rpc: int
    abci: int
    prometheus: int

    @classmethod
    def for_node(cls, base_port: int, index: int) -> NodePorts:
        first = base_port + PORT_STRIDE * index
        return cls(p2p=first + 6, rpc=first + 7, abci=first + 8, prometheus=first + 9)


def toml_value(value: str | int | bool) -> str:
    """A TOML literal for a string, integer or boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_]+)(\s*=\s*)(.*)$")


def set_toml_values(text: str, values: dict[str, dict[str, str | int | bool]]) -> str:
    """Replace ``key = value`` lines in their sections (``""`` is the top level).

    Every requested key must already exist: a silent miss would leave a node with
    a default we believe we changed (e.g. a colliding port).
    """
    pending = {section: dict(keys) for section, keys in values.items()}
    section = ""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
        else:
            match = _KEY.match(line)
            wanted = pending.get(section, {})
            if match and match.group(2) in wanted:
                indent, key, equals = match.group(1), match.group(2), match.group(3)
                newline = "\n" if line.endswith("\n") else ""
                line = f"{indent}{key}{equals}{toml_value(wanted.pop(key))}{newline}"
        out.append(line)
    missing = [f"[{s}] {k}" if s else k for s, keys in pending.items() for k in keys]
    if missing:
        raise ValueError(f"config.toml has no key(s): {', '.join(missing)}")
    return "".join(out)


def node_id(node_key_path: Path) -> str:
    """CometBFT node ID: hex of the first 20 bytes of SHA-256 of the ed25519 pubkey."""
    raw = json.loads(node_key_path.read_text())
    keypair = base64.b64decode(raw["priv_key"]["value"])
    # The Go ed25519 private key is seed ‖ public key.
    return hashlib.sha256(keypair[32:]).digest()[:20].hex()


def peers_string(entries: list[tuple[str, int]]) -> str:
    """``id@127.0.0.1:port`` list for ``persistent_peers``."""
    return ",".join(f"{nid}@127.0.0.1:{port}" for nid, port in entries)


def cometbft_settings(
    moniker: str, ports: NodePorts, peers: str, log_level: str = "info"
) -> dict[str, dict[str, str | int | bool]]:
    """The config.toml values the localnet sets for one node."""
    return {
        "": {
            "proxy_app": f"tcp://127.0.0.1:{ports.abci}",
            "moniker": moniker,
            "db_backend": "goleveldb",
            "log_level": log_level,
        },
        "rpc": {"laddr": f"tcp://127.0.0.1:{ports.rpc}", "pprof_laddr": ""},
        "p2p": {
            "laddr": f"tcp://127.0.0.1:{ports.p2p}",
            "external_address": f"127.0.0.1:{ports.p2p}",
            "persistent_peers": peers,
            "addr_book_strict": False,
            "allow_duplicate_ip": True,
        },
        # Large enough for load tests: the bench floods one node's mempool.
        "mempool": {"size": 50000, "max_txs_bytes": 1073741824, "cache_size": 100000},
        "consensus": dict(CONSENSUS_TIMEOUTS),
        "instrumentation": {
            "prometheus": False,
            "prometheus_listen_addr": f"127.0.0.1:{ports.prometheus}",
        },
    }


def rewrite_cometbft_config(
    config_path: Path, moniker: str, ports: NodePorts, peers: str, log_level: str = "info"
) -> None:
    """Rewrite one node's config.toml in place for the localnet."""
    text = config_path.read_text()
    config_path.write_text(
        set_toml_values(text, cometbft_settings(moniker, ports, peers, log_level))
    )


def localnet_oracle(index: int) -> dict[str, str | int | bool]:
    """The ``[oracle]`` section of localnet node ``index``: the same seeded ``sim`` walk on
    every node, each skewed by its own bias of at most ±400 ppm, so the feeds disagree a
    little, as real validators' sources do, and the chain's median has work to do."""
    return {"source": "sim", "sim_seed": 7, "sim_bias_ppm": (index % 5) * 200 - 400}


def app_toml(abci_port: int, db_path: str = "data/optio.db", log_level: str = "info",
             check_invariants: bool = True,
             overrides: dict[str, str | int | bool] | None = None,
             oracle: dict[str, str | int | bool] | None = None) -> str:
    """The app's ``config/app.toml`` read by ``chain.node.run_node``. Localnets check the
    state invariants after every block (a violation halts the node loudly). ``overrides``
    replace or add settings (the app refuses names it does not know when it starts);
    ``oracle`` becomes the ``[oracle]`` section (chain/oracle/feeder.py)."""
    settings: dict[str, str | int | bool] = {
        "abci_address": f"tcp://127.0.0.1:{abci_port}",
        "db_path": db_path,
        "log_level": log_level,
        "check_invariants": check_invariants,
        # Validators of a localnet share this host's cores: every one evaluating the empty-set
        # VDF fallback each block (docs/ordering.md) would spend them N times over for a guard
        # against slow proposers; the proposer's own evaluation always runs to the end.
        "vdf_precompute": False,
        **(overrides or {}),
    }
    lines = [f"{name} = {toml_value(value)}\n" for name, value in settings.items()]
    if oracle:
        lines += ["\n[oracle]\n", *(f"{name} = {toml_value(value)}\n"
                                   for name, value in oracle.items())]
    return "# Optio application settings (read by `optio node start`).\n" + "".join(lines)
