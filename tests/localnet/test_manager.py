"""Process management of the localnet with stand-in processes (no chain needed)."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localnet.config import NodePorts, app_toml
from localnet.manager import METADATA, Localnet, LocalnetError, free_base_port

# Stand-in for `python -m chain.cli node start --home H`: listens on app.toml's port.
# It ignores SIGTERM when <home>/stubborn exists, to exercise the SIGKILL fallback,
# and exits at once when <home>/crash exists.
FAKE_APP = f"""#!{sys.executable}
import signal, socket, sys, time, tomllib
from pathlib import Path
home = Path(sys.argv[sys.argv.index("--home") + 1])
if (home / "crash").exists():
    print("fake app: boom", flush=True)
    sys.exit(3)
if (home / "stubborn").exists():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
port = int(tomllib.loads((home / "config" / "app.toml").read_text())["abci_address"].rsplit(":", 1)[1])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen()
print("fake app: listening", flush=True)
while True:
    time.sleep(1)
"""
FAKE_COMETBFT = f"""#!{sys.executable}
import time
print("fake cometbft: started", flush=True)
while True:
    time.sleep(1)
"""


def _script(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture()
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Localnet]:
    """A two-node localnet layout (as `init` leaves it) driven by stand-in processes."""
    monkeypatch.setenv("OPTIO_COMETBFT", _script(tmp_path / "fake-cometbft", FAKE_COMETBFT))
    home = tmp_path / "net"
    base = free_base_port(2)
    for i in range(2):
        (home / f"node{i}" / "config").mkdir(parents=True)
        (home / f"node{i}" / "data").mkdir()
        (home / f"node{i}" / "config" / "app.toml").write_text(
            app_toml(NodePorts.for_node(base, i).abci))
    (home / METADATA).write_text(json.dumps(
        {"validators": 2, "base_port": base, "chain_id": "optio-fake"}))
    localnet = Localnet(home, python=_script(tmp_path / "fake-app", FAKE_APP))
    yield localnet
    localnet.down(kill=True)


def test_start_node_runs_app_then_cometbft_and_records_pids(net: Localnet) -> None:
    net.start_node("node0")
    node = net.node(0)
    for process in ("app", "cometbft"):
        status = net.process_status(node, process)
        assert status.alive
        assert int(node.pid_file(process).read_text()) == status.pid
    assert "fake app: listening" in node.log_file("app").read_text()


def test_start_is_idempotent(net: Localnet) -> None:
    net.start_node(0)
    before = net.process_status(net.node(0), "app").pid
    net.start_node(0)
    assert net.process_status(net.node(0), "app").pid == before


def test_stop_node_terminates_both_processes(net: Localnet) -> None:
    net.start_node(1)
    net.stop_node(1)
    node = net.node(1)
    assert not net.process_status(node, "app").alive
    assert not net.process_status(node, "cometbft").alive
    assert not node.pid_file("app").exists()


def test_stop_only_app_leaves_cometbft_running(net: Localnet) -> None:
    net.start_node(0)
    net.stop_node(0, only="app", kill=True)
    assert not net.process_status(net.node(0), "app").alive
    assert net.process_status(net.node(0), "cometbft").alive


def test_process_ignoring_sigterm_is_killed_after_the_grace_period(net: Localnet) -> None:
    (net.node(0).home / "stubborn").touch()
    net.start_node(0, only="app")
    net.stop_node(0, only="app", grace=0.5)
    assert not net.process_status(net.node(0), "app").alive


def test_recycled_pid_is_not_taken_for_the_node(net: Localnet) -> None:
    node = net.node(0)
    node.pid_file("app").write_text(f"{os.getpid()}\n")
    assert not net.process_status(node, "app").alive
    net.stop_node(0, only="app", kill=True)


def test_app_that_dies_at_start_fails_with_its_log(net: Localnet) -> None:
    (net.node(1).home / "crash").touch()
    with pytest.raises(LocalnetError, match="(?s)node1: the app process exited.*fake app: boom"):
        net.start_node(1)
    assert not net.process_status(net.node(1), "cometbft").alive


def test_taken_port_is_reported_with_the_way_out(net: Localnet) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", net.node(0).ports.abci))
        squatter.listen()
        with pytest.raises(LocalnetError, match="--base-port"):
            net.start_node(0)


def test_reset_wipes_chain_data_but_keeps_config(net: Localnet) -> None:
    home = net.node(0).home
    (home / "config" / "app.toml").write_text(
        (home / "config" / "app.toml").read_text().replace("data/optio.db", "appdb"))
    (home / "appdb").mkdir()
    data = net.node(0).home / "data"
    (data / "blockstore.db").mkdir()
    (data / "optio.db").mkdir()
    (data / "priv_validator_state.json").write_text('{"height": "41", "round": 0, "step": 3}')
    net.reset()
    assert sorted(p.name for p in data.iterdir()) == ["priv_validator_state.json"]
    assert json.loads((data / "priv_validator_state.json").read_text())["height"] == "0"
    assert not (home / "appdb").exists()
    assert (home / "config" / "app.toml").exists()


def test_existing_localnet_keeps_its_settings(net: Localnet) -> None:
    assert Localnet(net.home).base_port == net.base_port
    with pytest.raises(LocalnetError, match="created with validators=2"):
        Localnet(net.home, validators=4)


def test_nodes_are_named_by_index(net: Localnet) -> None:
    assert net.node("node1") == net.node("1") == net.node(1)
    with pytest.raises(LocalnetError, match="node0..node1"):
        net.node("node2")


def test_status_reports_unreachable_stopped_nodes(net: Localnet) -> None:
    statuses = net.status()
    assert [s.name for s in statuses] == ["node0", "node1"]
    assert all(s.height is None and s.error and not s.app.alive for s in statuses)
