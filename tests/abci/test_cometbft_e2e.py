"""End to end: a real single-node CometBFT v0.38 drives our ABCI server hosting a tiny counter
app (app hash = 8-byte big-endian height, vote extensions switched on through InitChain) until
the chain passes height 3, its RPC reports the app's own Info data, and a broadcast tx goes
through CheckTx and FinalizeBlock."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from abci.proto import abci_pb2 as pb
from abci.proto import types_pb2
from abci.server import ABCIServer
from localnet.config import NodePorts
from localnet.manager import free_base_port

REPO_ROOT = Path(__file__).resolve().parents[2]
COMETBFT = REPO_ROOT / ".tools" / "bin" / "cometbft"
TARGET_HEIGHT = 3
DEADLINE_SECONDS = 90.0
VOTE_EXTENSIONS_FROM = 2
TX = b"optio-e2e-tx"


class CounterApp:
    """Counts blocks; each validator's vote extension is the height it votes on."""

    def __init__(self) -> None:
        self.height = 0
        self.extensions_seen: list[bytes] = []
        self.checked: list[bytes] = []
        self.finalized: list[bytes] = []

    @staticmethod
    def app_hash(height: int) -> bytes:
        return height.to_bytes(8, "big")

    def info(self, request: pb.RequestInfo) -> pb.ResponseInfo:
        return pb.ResponseInfo(
            data="optio-counter",
            version="1.0.0",
            app_version=1,
            last_block_height=self.height,
            last_block_app_hash=self.app_hash(self.height) if self.height else b"",
        )

    def init_chain(self, request: pb.RequestInitChain) -> pb.ResponseInitChain:
        params = types_pb2.ConsensusParams(
            abci=types_pb2.ABCIParams(vote_extensions_enable_height=VOTE_EXTENSIONS_FROM)
        )
        return pb.ResponseInitChain(consensus_params=params)

    def check_tx(self, request: pb.RequestCheckTx) -> pb.ResponseCheckTx:
        self.checked.append(request.tx)
        return pb.ResponseCheckTx(code=0)

    def prepare_proposal(self, request: pb.RequestPrepareProposal) -> pb.ResponsePrepareProposal:
        self.extensions_seen.extend(v.vote_extension for v in request.local_last_commit.votes)
        return pb.ResponsePrepareProposal(txs=request.txs)

    def process_proposal(self, request: pb.RequestProcessProposal) -> pb.ResponseProcessProposal:
        return pb.ResponseProcessProposal(status=pb.ResponseProcessProposal.ACCEPT)

    def extend_vote(self, request: pb.RequestExtendVote) -> pb.ResponseExtendVote:
        return pb.ResponseExtendVote(vote_extension=self.app_hash(request.height))

    def verify_vote_extension(
        self, request: pb.RequestVerifyVoteExtension
    ) -> pb.ResponseVerifyVoteExtension:
        verdict = pb.ResponseVerifyVoteExtension
        ok = request.vote_extension == self.app_hash(request.height)
        return verdict(status=verdict.ACCEPT if ok else verdict.REJECT)

    def finalize_block(self, request: pb.RequestFinalizeBlock) -> pb.ResponseFinalizeBlock:
        assert request.height == self.height + 1, "blocks must arrive in order"
        self.finalized.extend(request.txs)
        results = [pb.ExecTxResult(code=0, data=tx[::-1]) for tx in request.txs]
        return pb.ResponseFinalizeBlock(tx_results=results, app_hash=self.app_hash(request.height))

    def commit(self, request: pb.RequestCommit) -> pb.ResponseCommit:
        self.height += 1
        return pb.ResponseCommit()


def _configure(config: Path, proxy_app: str, rpc_port: int, p2p_port: int) -> None:
    """Point CometBFT at our server, on private ports, with fast blocks."""
    section = ""
    lines = []
    for line in config.read_text().splitlines():
        if header := re.match(r"^\[(.+)\]\s*$", line):
            section = header.group(1)
        if line.startswith("proxy_app ="):
            line = f'proxy_app = "{proxy_app}"'
        elif line.startswith("laddr =") and section == "rpc":
            line = f'laddr = "tcp://127.0.0.1:{rpc_port}"'
        elif line.startswith("laddr =") and section == "p2p":
            line = f'laddr = "tcp://127.0.0.1:{p2p_port}"'
        elif line.startswith("timeout_commit =") and section == "consensus":
            line = 'timeout_commit = "200ms"'
        lines.append(line)
    config.write_text("\n".join(lines) + "\n")


def _rpc(port: int, method: str) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{method}", timeout=30) as reply:
        body = json.loads(reply.read())
    result = body["result"]
    assert isinstance(result, dict)
    return result


class ServerThread:
    """Runs an ABCIServer on its own event loop in a background thread."""

    def __init__(self, app: object) -> None:
        self.server = ABCIServer(app, "tcp://127.0.0.1:0")
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def serve() -> None:
            await self.server.start()
            self.started.set()
            await self.server.serve()

        try:
            self.loop.run_until_complete(serve())
        except BaseException as exc:  # surfaced to the test thread by stop()
            self.error = exc
            self.started.set()
        finally:
            self.loop.close()

    def start(self) -> str:
        self.thread.start()
        assert self.started.wait(10), "ABCI server did not start"
        return self.server.address

    def stop(self) -> None:
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.thread.join(10)
        if self.error is not None:
            raise self.error


@pytest.mark.e2e
def test_single_cometbft_node_drives_the_counter_app_past_height_three(tmp_path: Path) -> None:
    if not COMETBFT.exists():
        pytest.skip(f"CometBFT binary missing at {COMETBFT} (run the set-up script)")
    home = tmp_path / "node"
    subprocess.run(
        [str(COMETBFT), "init", "--home", str(home)], check=True, capture_output=True, timeout=30
    )
    app = CounterApp()
    server = ServerThread(app)
    proxy_app = server.start()
    # Below the ephemeral range, where an outgoing connection cannot take them meanwhile.
    ports = NodePorts.for_node(free_base_port(1), 0)
    rpc_port, p2p_port = ports.rpc, ports.p2p
    _configure(home / "config" / "config.toml", proxy_app, rpc_port, p2p_port)
    log_path = tmp_path / "cometbft.log"
    with log_path.open("w") as log_file:
        node = subprocess.Popen(
            [str(COMETBFT), "start", "--home", str(home)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            height = 0
            while height < TARGET_HEIGHT:
                assert node.poll() is None, f"CometBFT exited:\n{log_path.read_text()[-4000:]}"
                assert time.monotonic() < deadline, (
                    f"chain stuck at height {height}:\n{log_path.read_text()[-4000:]}"
                )
                try:
                    sync = _rpc(rpc_port, "status")["sync_info"]
                    assert isinstance(sync, dict)
                    height = int(sync["latest_block_height"])
                except OSError:
                    pass
                time.sleep(0.2)
            info = _rpc(rpc_port, "abci_info")["response"]
            assert isinstance(info, dict)
            committed = _rpc(rpc_port, f"broadcast_tx_commit?tx=0x{TX.hex()}")
        finally:
            node.terminate()
            try:
                node.wait(15)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
            server.stop()
    assert info["data"] == "optio-counter"
    assert info["version"] == "1.0.0"
    assert info["app_version"] == "1"
    reported_height = int(str(info["last_block_height"]))
    assert reported_height >= TARGET_HEIGHT
    reported_hash = base64.b64decode(str(info["last_block_app_hash"]))
    assert reported_hash == CounterApp.app_hash(reported_height)
    assert CounterApp.app_hash(VOTE_EXTENSIONS_FROM) in app.extensions_seen
    tx_result = committed["tx_result"]
    assert isinstance(tx_result, dict)
    assert base64.b64decode(str(tx_result["data"])) == TX[::-1]
    assert set(app.checked) == {TX}  # a recheck after an intervening block may repeat it
    assert app.finalized == [TX]
