"""Chain throughput: one load generator drives CometBFT's built-in `kvstore` app and an Optio
localnet (signed `MsgSend` transactions), on the same node count, in the same run.

For each node count (1 and 4 by default) the benchmark starts a fresh network per system, lets
it produce a few blocks, then runs one load per in-flight window (4000 then 16000 by default;
`--quick`: 4000 only), each starting on empty mempools. A load keeps at most `window`
transactions in flight (sent but not yet seen in a block), submitting them round-robin to every
node's RPC as JSON-RPC batches of `broadcast_tx_async` (`--method sync`: `broadcast_tx_sync`,
where each request also waits for its CheckTx; bench/README.md says why async is the default).
Every tx of the load is valid, so none is dropped by CheckTx unseen. A poller reads each new
block from node0 and stamps every tx in it with the time the block became visible. Reported per
system and window:

- committed tx/s: load txs that succeeded in blocks that became visible during the measured
  time, divided by that time (a warm-up at the start is excluded);
- p50/p99 latency of those txs: from the moment a tx's batch was sent to the moment its block
  was seen.

The ratio compares the two systems at the same window: the same offered load. The headline
figures are those of the first window; the others show how each system scales with the load
(bench/README.md says what sets each figure: on 4 nodes Optio uses both cores, kvstore is
bound by its block pipeline).

kvstore transactions are padded to the size of an Optio transfer so both carry the same bytes.
The last line printed is one JSON object (documented in bench/README.md).

    .venv/bin/python bench/throughput.py [--quick] [--nodes 1,4] [--seconds S] [--windows N,..]
        [--senders N] [--accounts N] [--method async|sync] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from chain.address import address_from_public_key  # noqa: E402
from chain.rpc import RPCClient  # noqa: E402
from chain.tx import build_msgs_tx, build_send_msg, build_send_tx, public_key_bytes  # noqa: E402
from localnet.config import NodePorts, cometbft_settings, node_id, peers_string, set_toml_values  # noqa: E402
from localnet.manager import Localnet, cometbft_binary, free_base_port  # noqa: E402
from state.params import DEFAULT_PARAMS  # noqa: E402

BATCH = 100
# Funding of the Optio load's senders: one multi-send tx per max_msgs_per_tx accounts, each
# account getting enough uusd for every transfer it may send.
MSGS_PER_FUNDING_TX = DEFAULT_PARAMS.max_msgs_per_tx
SENDER_FUNDS = 10**9
WARMUP_S = 2.0
# Txs given to each load, per second of it: above anything either system commits here (Optio
# peaks near 7,000 tx/s on one node, kvstore near 13,000), so a load never runs dry; a load
# that does is reported, its figure then being a lower bound.
OPTIO_RATE_CAP = 10_000
KVSTORE_RATE_CAP = 20_000
# CometBFT caps JSON-RPC batches at 10 requests by default; both systems get the same raise.
RPC_SETTINGS: dict[str, dict[str, str | int | bool]] = {"rpc": {"max_request_batch_size": BATCH}}


def _apply_bench_settings(config: Path) -> None:
    config.write_text(set_toml_values(config.read_text(), RPC_SETTINGS))


@dataclass(frozen=True, slots=True)
class Measurement:
    system: str
    nodes: int
    window: int
    submitted: int
    committed: int
    tps: float
    p50_ms: float
    p99_ms: float
    blocks: int
    failed: int
    """Refused by CheckTx (seen only with broadcast_tx_sync) or failed in their block."""
    ran_dry: bool
    """The load sent every tx it was given before the time was up."""

    def line(self) -> str:
        dry = ", ran dry: a lower bound" if self.ran_dry else ""
        return (f"{self.system:8s} nodes={self.nodes} window={self.window:<6d} committed "
                f"{self.tps:8.1f} tx/s  p50 {self.p50_ms:7.1f} ms  p99 {self.p99_ms:7.1f} ms  "
                f"({self.committed}/{self.submitted} txs in {self.blocks} blocks, "
                f"{self.failed} failed{dry})")


class _Rpc:
    """A keep-alive JSON-RPC connection to one node (one per sending thread)."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self._conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)

    def call(self, payload: object) -> object:
        return json.loads(self.post(json.dumps(payload).encode()))

    def post(self, body: bytes) -> bytes:
        """POST an encoded JSON-RPC request (or batch); the raw answer."""
        self._conn.request("POST", "/", body, {"Content-Type": "application/json"})
        return self._conn.getresponse().read()

    def close(self) -> None:
        self._conn.close()


class Load:
    """Closed-loop load: at most `window` txs in flight, sent in batches round-robin."""

    def __init__(self, urls: list[str], txs: list[bytes], window: int, senders: int,
                 method: str) -> None:
        self.urls = urls
        self.txs = txs
        # Each tx's JSON-RPC request (its id is its index) and hash, made before the load
        # starts: the load generator shares the cores with the nodes it measures.
        self._requests = [
            b'{"jsonrpc":"2.0","id":%d,"method":"broadcast_tx_%s","params":{"tx":"%s"}}'
            % (index, method.encode(), base64.b64encode(tx)) for index, tx in enumerate(txs)]
        self._hashes = [hashlib.sha256(tx).digest() for tx in txs]
        self.window = window
        self.senders = senders
        self.taken = 0
        self.sent_at: dict[bytes, float] = {}
        self.committed_at: dict[bytes, float] = {}
        self.blocks: list[tuple[int, float, list[bytes]]] = []
        self.succeeded: set[bytes] = set()
        self.block_times: list[tuple[float, int]] = []
        self.failed_in_blocks = 0
        self.rejected = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # Notified when txs leave the window (a block was read) and at the end of the run.
        self._window_freed = threading.Condition(self._lock)

    def _wait_for_room(self) -> None:
        """Until BATCH more txs fit in the window (or the run ends)."""
        with self._window_freed:
            self._window_freed.wait_for(
                lambda: self._stop.is_set()
                or len(self.sent_at) - len(self.committed_at) + BATCH <= self.window)

    def _take_batch(self) -> range:
        """Indices of the next txs to send."""
        with self._lock:
            batch = range(self.taken, min(self.taken + BATCH, len(self.txs)))
            self.taken = batch.stop
            return batch

    def _send(self, first_node: int) -> None:
        """One sender: its own keep-alive connection per node, batches round-robin over nodes.
        CometBFT answers the requests of one JSON-RPC batch one after the other (with
        `broadcast_tx_sync` each waits for its CheckTx), so several senders keep the app busy."""
        rpcs = [_Rpc(u) for u in self.urls]
        turn = first_node
        try:
            while not self._stop.is_set():
                self._wait_for_room()
                if self._stop.is_set():
                    return
                batch = self._take_batch()
                if not batch:
                    return
                body = b"[" + b",".join(self._requests[batch.start:batch.stop]) + b"]"
                now = time.monotonic()
                with self._lock:
                    for index in batch:
                        self.sent_at[self._hashes[index]] = now
                answers = rpcs[turn % len(rpcs)].post(body)
                turn += 1
                # CometBFT writes compact JSON: one `"code":0,` per accepted tx. Anything
                # else is read in full.
                if answers.count(b'"code":0,') == len(batch) and b'"error"' not in answers:
                    continue
                failed = [a["id"] for a in json.loads(answers)
                          if "error" in a or a["result"]["code"] != 0]
                with self._window_freed:
                    self.rejected += len(failed)
                    for index in failed:
                        self.sent_at.pop(self._hashes[index], None)
                    self._window_freed.notify_all()
        finally:
            for rpc in rpcs:
                rpc.close()

    def _poll(self, start_height: int) -> None:
        """Read every block from node0 as soon as it exists: its txs leave the window then."""
        rpc = _Rpc(self.urls[0])
        height = start_height + 1
        try:
            while not self._stop.is_set():
                block = _fetch(rpc, "block", height)
                if block is None:
                    time.sleep(0.01)
                    continue
                seen = time.monotonic()
                txs = [hashlib.sha256(base64.b64decode(tx)).digest()
                       for tx in block["block"]["data"]["txs"] or []]
                with self._window_freed:
                    for tx in txs:
                        self.committed_at[tx] = seen
                    self.blocks.append((height, seen, txs))
                    self._window_freed.notify_all()
                height += 1
        finally:
            rpc.close()

    def _settle(self) -> None:
        """After the run, read each seen block's results: a tx counts as committed only if it
        succeeded (read afterwards so that the window is never held up by it)."""
        rpc = _Rpc(self.urls[0])
        try:
            for height, seen, txs in self.blocks:
                deadline = time.monotonic() + 30
                while (results := _fetch(rpc, "block_results", height)) is None:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no results for block {height}")
                    time.sleep(0.05)
                codes = [r.get("code", 0) for r in results["txs_results"] or []]
                ok = [tx for tx, code in zip(txs, codes, strict=True)
                      if code == 0 and tx in self.sent_at]
                self.succeeded.update(ok)
                self.failed_in_blocks += sum(code != 0 for code in codes)
                self.block_times.append((seen, len(ok)))
        finally:
            rpc.close()

    def run(self, seconds: float, start_height: int) -> None:
        poller = threading.Thread(target=self._poll, args=(start_height,), daemon=True)
        senders = [threading.Thread(target=self._send, args=(i,), daemon=True)
                   for i in range(self.senders)]
        poller.start()
        for sender in senders:
            sender.start()
        time.sleep(seconds)
        with self._window_freed:
            self._stop.set()
            self._window_freed.notify_all()
        for sender in senders:
            sender.join()
        poller.join()
        self._settle()

    def measure(self, system: str, nodes: int, started: float, seconds: float) -> Measurement:
        begin, end = started + WARMUP_S, started + seconds
        in_window = sum(n for t, n in self.block_times if begin <= t <= end)
        latencies = sorted(
            (self.committed_at[h] - sent) * 1000
            for h, sent in self.sent_at.items() if h in self.succeeded
        )
        return Measurement(
            system=system, nodes=nodes, window=self.window, submitted=len(self.sent_at),
            committed=len(latencies), tps=in_window / (end - begin),
            p50_ms=_percentile(latencies, 50), p99_ms=_percentile(latencies, 99),
            blocks=len(self.block_times), failed=self.rejected + self.failed_in_blocks,
            ran_dry=self.taken == len(self.txs),
        )


def _fetch(rpc: _Rpc, method: str, height: int) -> dict | None:
    """The result of `method` at `height`, or None while the node does not have it yet."""
    answer = rpc.call({"jsonrpc": "2.0", "id": 0, "method": method,
                       "params": {"height": str(height)}})
    assert isinstance(answer, dict)
    return None if "error" in answer else answer["result"]


def _percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _status_height(url: str) -> int:
    rpc = _Rpc(url)
    try:
        answer = rpc.call({"jsonrpc": "2.0", "id": 0, "method": "status", "params": {}})
        return int(answer["result"]["sync_info"]["latest_block_height"])
    except (OSError, KeyError, ValueError, http.client.HTTPException):
        return 0
    finally:
        rpc.close()


def _wait_height(url: str, height: int, timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = _status_height(url)
        if current >= height:
            return current
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not reach height {height} in {timeout:g}s")


# --- the kvstore peer ------------------------------------------------------------------


@contextmanager
def kvstore_network(home: Path, nodes: int, base_port: int) -> Iterator[list[str]]:
    """`nodes` CometBFT validators running the built-in kvstore app, configured exactly like
    the Optio localnet (same timeouts, mempool, ports scheme) except `proxy_app = kvstore`."""
    subprocess.run(
        [cometbft_binary(), "testnet", "--v", str(nodes), "--o", str(home),
         "--starting-ip-address", "127.0.0.1", "--populate-persistent-peers=false"],
        check=True, capture_output=True,
    )
    homes = [home / f"node{i}" for i in range(nodes)]
    ports = [NodePorts.for_node(base_port, i) for i in range(nodes)]
    ids = [node_id(h / "config" / "node_key.json") for h in homes]
    for i, node_home in enumerate(homes):
        peers = peers_string([(ids[j], ports[j].p2p) for j in range(nodes) if j != i])
        settings = cometbft_settings(f"kv{i}", ports[i], peers, "error")
        settings[""]["proxy_app"] = "kvstore"
        config = node_home / "config" / "config.toml"
        config.write_text(set_toml_values(config.read_text(), settings))
        _apply_bench_settings(config)
    procs = [
        subprocess.Popen([cometbft_binary(), "start", "--home", str(h)],
                         stdout=(h / "cometbft.log").open("wb"), stderr=subprocess.STDOUT,
                         start_new_session=True)
        for h in homes
    ]
    try:
        yield [f"http://127.0.0.1:{p.rpc}" for p in ports]
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def optio_network(home: Path, nodes: int, base_port: int) -> Iterator[Localnet]:
    net = Localnet(home, nodes, base_port, "optio-bench", log_level="error")
    try:
        net.init()
        for node in net.nodes:
            _apply_bench_settings(node.home / "config" / "config.toml")
        net.up(timeout=180)
        yield net
    finally:
        net.down()


# --- transactions ------------------------------------------------------------------------


def fund_senders(net: Localnet, count: int) -> list[bytes]:
    """Seeds of `count` fresh accounts, each funded with `SENDER_FUNDS` uusd by the demo keys
    (multi-send txs, committed before this returns)."""
    seeds = [hashlib.sha256(b"optio-bench-sender-%d" % i).digest() for i in range(count)]
    addresses = [address_from_public_key(public_key_bytes(seed)) for seed in seeds]
    funders = [(net.keyring.private_key(k.name), k.address) for k in net.demo_keys()]
    rpc = RPCClient(net.nodes[0].rpc_url)
    hashes = []
    for index, start in enumerate(range(0, count, MSGS_PER_FUNDING_TX)):
        key, funder = funders[index % len(funders)]
        messages = [build_send_msg(funder, to, SENDER_FUNDS, "uusd")
                    for to in addresses[start:start + MSGS_PER_FUNDING_TX]]
        tx = build_msgs_tx(key, messages, chain_id=net.chain_id,
                           nonce=index // len(funders) + 1, fee=100)
        answer = rpc.broadcast_tx_sync(tx)
        if answer.code != 0:
            raise RuntimeError(f"funding tx refused: {answer.code} {answer.log}")
        hashes.append(answer.hash)
    for tx_hash in hashes:
        if rpc.wait_for_tx(tx_hash, timeout=60).code != 0:
            raise RuntimeError(f"funding tx {tx_hash} failed in its block")
    return seeds


def optio_txs(net: Localnet, seeds: list[bytes], count: int) -> list[bytes]:
    """`count` signed transfers, round-robin over the funded senders (nonces 1, 2, … each), so
    that every sender has only a few txs in flight, as many traders would."""
    keys = [Ed25519PrivateKey.from_private_bytes(seed) for seed in seeds]
    sink = net.demo_keys()[0].address
    return [
        build_send_tx(keys[i % len(keys)], chain_id=net.chain_id, nonce=i // len(keys) + 1,
                      to=sink, amount=1, denom="uusd", fee=100)
        for i in range(count)
    ]


def kvstore_txs(first: int, count: int, size: int) -> list[bytes]:
    """Txs `first` … `first + count - 1` of the kvstore load: unique `key=value` strings padded
    to `size` bytes (made per load: cheap, and a whole sweep's would take gigabytes)."""
    txs = []
    for i in range(first, first + count):
        head = f"bench{i:09d}=".encode()
        txs.append(head + b"v" * max(1, size - len(head)))
    return txs


def _mempool_size(url: str) -> int:
    rpc = _Rpc(url)
    try:
        answer = rpc.call({"jsonrpc": "2.0", "id": 0, "method": "num_unconfirmed_txs",
                           "params": {}})
        return int(answer["result"]["n_txs"])
    finally:
        rpc.close()


def _drain(urls: list[str], timeout: float = 60.0) -> None:
    """Wait until every node's mempool is empty: what one load left in flight is committed
    before the next load starts."""
    deadline = time.monotonic() + timeout
    while any(_mempool_size(url) for url in urls):
        if time.monotonic() > deadline:
            raise RuntimeError(f"mempools not drained after {timeout:g}s")
        time.sleep(0.2)


def budget(seconds: float, rate_cap: int, window: int) -> int:
    """Txs a load of one window is given: more than the system can commit in the time."""
    return int(seconds * rate_cap) + window


def sweep(system: str, urls: list[str], txs_at: Callable[[int, int], list[bytes]],
          rate_cap: int, windows: list[int], seconds: float, senders: int,
          method: str) -> list[Measurement]:
    """One load per window, in order, on the same network. `txs_at(offset, count)` gives the
    load's txs: each load starts where the previous one stopped (Optio nonces continue), once
    every mempool is empty."""
    results = []
    offset = 0
    _wait_height(urls[0], 3)
    for window in windows:
        _drain(urls)
        start = _wait_height(urls[0], _status_height(urls[0]) + 1)
        load = Load(urls, txs_at(offset, budget(seconds, rate_cap, window)), window, senders,
                    method)
        started = time.monotonic()
        load.run(seconds, start)
        offset += load.taken
        result = load.measure(system, len(urls), started, seconds)
        print(result.line(), flush=True)
        results.append(result)
    return results


def run_pair(nodes: int, seconds: float, windows: list[int], senders: int, method: str,
             accounts: int, workdir: Path) -> tuple[list[Measurement], list[Measurement]]:
    """Sweep Optio then kvstore over `windows`, `nodes` validators each."""
    with optio_network(workdir / f"optio{nodes}", nodes, free_base_port(nodes)) as net:
        # Signed before any load starts, so that signing never competes with the nodes.
        signed = optio_txs(net, fund_senders(net, accounts),
                           sum(budget(seconds, OPTIO_RATE_CAP, w) for w in windows))
        tx_size = len(signed[0])
        optio = sweep("optio", [n.rpc_url for n in net.nodes],
                      lambda offset, count: signed[offset:offset + count], OPTIO_RATE_CAP,
                      windows, seconds, senders, method)
    with kvstore_network(workdir / f"kv{nodes}", nodes, free_base_port(nodes)) as urls:
        kv = sweep("kvstore", urls, lambda offset, count: kvstore_txs(offset, count, tx_size),
                   KVSTORE_RATE_CAP, windows, seconds, senders, method)
    return optio, kv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under 2 minutes)")
    parser.add_argument("--nodes", default="1,4", help="comma-separated node counts")
    parser.add_argument("--seconds", type=float, default=None,
                        help="load duration per system and window")
    parser.add_argument("--windows", default=None,
                        help="comma-separated in-flight windows, run in order on the same "
                             "networks (default 4000,16000; --quick 4000)")
    parser.add_argument("--senders", type=int, default=8, help="concurrent RPC senders")
    parser.add_argument("--accounts", type=int, default=2000,
                        help="funded Optio accounts the transfers are spread over")
    parser.add_argument("--method", choices=("async", "sync"), default="async",
                        help="broadcast_tx_async (default, as CometBFT's tm-load-test) or _sync")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    windows = [int(w) for w in (args.windows or ("4000" if args.quick
                                                 else "4000,16000")).split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="optio-bench-"))
    figures: dict[str, float | int] = {}
    try:
        print(f"load: {seconds:g}s per system and window, windows {windows} txs in flight, "
              f"{args.senders} senders, batches of {BATCH} broadcast_tx_{args.method}, "
              f"warm-up {WARMUP_S:g}s excluded", flush=True)
        for nodes in (int(n) for n in args.nodes.split(",")):
            optio, kv = run_pair(nodes, seconds, windows, args.senders, args.method,
                                 args.accounts, workdir)
            for o, k in zip(optio, kv, strict=True):
                ratio = o.tps / k.tps if k.tps else float("nan")
                print(f"ratio optio/kvstore at {nodes} node(s), window {o.window}: {ratio:.2f}",
                      flush=True)
                figures.update({
                    f"optio_tps_{nodes}_w{o.window}": round(o.tps, 1),
                    f"kvstore_tps_{nodes}_w{k.window}": round(k.tps, 1),
                    f"ratio_{nodes}_w{o.window}": round(ratio, 3),
                })
            # The headline: the first window, the same offered load for both systems.
            base_optio, base_kv = optio[0], kv[0]
            figures.update({
                f"optio_tps_{nodes}": round(base_optio.tps, 1),
                f"kvstore_tps_{nodes}": round(base_kv.tps, 1),
                f"ratio_{nodes}": figures[f"ratio_{nodes}_w{base_optio.window}"],
                f"p50_ms_{nodes}": round(base_optio.p50_ms, 1),
                f"p99_ms_{nodes}": round(base_optio.p99_ms, 1),
                f"kvstore_p50_ms_{nodes}": round(base_kv.p50_ms, 1),
                f"kvstore_p99_ms_{nodes}": round(base_kv.p99_ms, 1),
            })
            if any(m.ran_dry for m in optio + kv):
                print("warning: a load ran out of pre-signed txs; its figure is a lower bound",
                      flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
