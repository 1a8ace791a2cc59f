"""A whole Optio chain on one machine: N validators, each a CometBFT + app pair.

Layout of a localnet home::

    <home>/localnet.json        validators, base port, chain id (fixed at creation),
                                number of full nodes added later
    <home>/keyring-test/        funded demo keys and validator operator keys
    <home>/node<i>/             CometBFT home and app home of validator i (i < validators);
                                homes past the validators are full nodes from ``add_node``
        config/{config.toml,genesis.json,app.toml,...}
        data/                   CometBFT data and the app DB (data/optio.db)
        app.pid, cometbft.pid   pids of the detached processes
        app.log, cometbft.log   their output

Processes are detached (own session) so they outlive the command that started
them; every operation re-reads the pid files, so the CLI and Python callers
(tests) can manage the same localnet. A pid counts as ours only if that process'
command line still names the node home, so a recycled pid is never signalled.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from chain.keystore import Keyring
from chain.rpc import RPCClient, RPCError
from localnet.config import (
    DEFAULT_BASE_PORT,
    PORT_STRIDE,
    NodePorts,
    app_toml,
    localnet_oracle,
    node_id,
    peers_string,
    rewrite_cometbft_config,
)

DEFAULT_HOME = Path("~/.optio/localnet")
DEFAULT_CHAIN_ID = "optio-localnet"
DEFAULT_VALIDATORS = 4
DEMO_KEYS = ("alice", "bob", "carol", "dave")
REPO_ROOT = Path(__file__).resolve().parent.parent
METADATA = "localnet.json"
Process = Literal["app", "cometbft"]
PROCESSES: tuple[Process, ...] = ("app", "cometbft")


DEFAULT_SELF_BOND = 100_000_000
"""uopt each localnet validator bonds at genesis: 100 OPT, voting power 100."""


class LocalnetError(Exception):
    """The localnet cannot do what was asked; the message says why and what to look at."""


def cometbft_binary() -> str:
    """``OPTIO_COMETBFT``, else the repo's ``.tools/bin/cometbft``, else ``cometbft`` on PATH."""
    explicit = os.environ.get("OPTIO_COMETBFT")
    if explicit:
        return explicit
    local = REPO_ROOT / ".tools" / "bin" / "cometbft"
    if local.exists():
        return str(local)
    found = shutil.which("cometbft")
    if found is None:
        raise LocalnetError(
            "CometBFT binary not found: run localnet/setup.sh or set OPTIO_COMETBFT"
        )
    return found


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file ('' if absent)."""
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        # Read backwards in blocks until enough newlines are seen.
        block, data = 8192, b""
        while size > 0 and data.count(b"\n") <= lines:
            step = min(block, size)
            size -= step
            handle.seek(size)
            data = handle.read(step) + data
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _pid_alive(pid: int, marker: str) -> bool:
    """True if ``pid`` runs and its command line contains ``marker``."""
    try:
        # Reap it if it is our own exited child, so it does not linger as a zombie.
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    if state == "Z":
        return False
    # Right after fork/exec the command line reads empty for a moment: that is our
    # child starting, not a recycled pid.
    if not cmdline:
        return True
    # Arguments are NUL-terminated: match whole arguments so node1 is not node10.
    return b"\0" + marker.encode() + b"\0" in cmdline


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _ephemeral_port_low() -> int:
    """Lowest port the kernel hands to outgoing connections (Linux default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_base_port(validators: int, low: int = 20000, high: int | None = None) -> int:
    """A base port whose node ports are all free now, for parallel localnets in tests.

    The range stays below the kernel's ephemeral ports: a port in that range that is free
    when checked can be taken by any outgoing connection before the node binds it. Random
    rather than sequential so concurrent callers rarely pick the same range; ``up`` still
    reports a clash clearly if another program takes a port meanwhile.
    """
    top = high if high is not None else _ephemeral_port_low()
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(low, top - PORT_STRIDE * validators, PORT_STRIDE)
        ports = NodePorts.for_node
        if not any(_port_in_use(p) for i in range(validators)
                   for p in dataclasses.astuple(ports(base, i))):
            return base
    raise LocalnetError(f"no free range of ports for {validators} nodes in {low}-{top}")


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """One process of a node: its pid (if a pid file exists) and whether it runs."""

    pid: int | None
    alive: bool


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """What ``localnet status`` shows for one node."""

    name: str
    rpc: str
    height: int | None
    app_hash: str | None
    app: ProcessStatus
    cometbft: ProcessStatus
    error: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "rpc": self.rpc, "height": self.height,
            "app_hash": self.app_hash,
            "app": {"pid": self.app.pid, "alive": self.app.alive},
            "cometbft": {"pid": self.cometbft.pid, "alive": self.cometbft.alive},
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Node:
    """Paths and ports of validator ``index``."""

    index: int
    home: Path
    ports: NodePorts

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rpc}"

    def pid_file(self, process: Process) -> Path:
        return self.home / f"{process}.pid"

    def log_file(self, process: Process) -> Path:
        return self.home / f"{process}.log"


@dataclass(frozen=True, slots=True)
class DemoKey:
    """A funded key of the localnet's test keyring."""

    name: str
    address: str


class Localnet:
    """Create, start, stop and inspect a localnet under ``home``.

    ``validators``, ``base_port`` and ``chain_id`` are fixed when the network is
    created; on an existing home they default to the stored values and must
    match them if given.
    """

    def __init__(
        self,
        home: Path | str = DEFAULT_HOME,
        validators: int | None = None,
        base_port: int | None = None,
        chain_id: str | None = None,
        *,
        log_level: str = "info",
        python: str | None = None,
    ) -> None:
        self.home = Path(home).expanduser().resolve()
        stored = self._read_metadata()
        self.validators = int(self._setting("validators", validators, stored, DEFAULT_VALIDATORS))
        self.base_port = int(self._setting("base_port", base_port, stored, DEFAULT_BASE_PORT))
        self.chain_id = str(self._setting("chain_id", chain_id, stored, DEFAULT_CHAIN_ID))
        self.full_nodes = int(stored.get("full_nodes", 0))
        if self.validators < 1:
            raise LocalnetError("a localnet needs at least one validator")
        self.log_level = log_level
        self.python = python or sys.executable
        self.keyring = Keyring(self.home, "test")

    def _read_metadata(self) -> dict[str, int | str]:
        path = self.home / METADATA
        return json.loads(path.read_text()) if path.exists() else {}

    @staticmethod
    def _setting(
        name: str, given: int | str | None, stored: dict[str, int | str], default: int | str
    ) -> int | str:
        if name in stored:
            if given is not None and given != stored[name]:
                raise LocalnetError(
                    f"this localnet was created with {name}={stored[name]!r}, not {given!r}; "
                    "use another --home or `optio localnet reset`/delete the home"
                )
            return stored[name]
        return default if given is None else given

    # --- layout ---------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return (self.home / METADATA).exists()

    @property
    def nodes(self) -> list[Node]:
        """Every node: the genesis validators, then the full nodes added with ``add_node``."""
        return [
            Node(i, self.home / f"node{i}", NodePorts.for_node(self.base_port, i))
            for i in range(self.validators + self.full_nodes)
        ]

    def is_genesis_validator(self, node: Node) -> bool:
        return node.index < self.validators

    def node(self, name: str | int) -> Node:
        """A node by index, ``"3"`` or ``"node3"``."""
        text = str(name).removeprefix("node")
        count = self.validators + self.full_nodes
        if not text.isdigit() or int(text) >= count:
            raise LocalnetError(f"no node {name!r}: this localnet has node0..node{count - 1}")
        return self.nodes[int(text)]

    def rpc(self, node: Node | int = 0, timeout: float = 5.0) -> RPCClient:
        target = node if isinstance(node, Node) else self.nodes[node]
        return RPCClient(target.rpc_url, timeout=timeout)

    def demo_keys(self) -> list[DemoKey]:
        return [DemoKey(k.name, k.address) for k in self.keyring.list()]

    # --- creation -------------------------------------------------------------

    def init(self, genesis_overrides: dict[str, Any] | None = None,
             self_bond: int = DEFAULT_SELF_BOND) -> bool:
        """Generate the network if the home has none; True if it was created now.

        ``genesis_overrides`` is merged into the generated genesis.json before any node
        starts (objects key by key, anything else replaced), e.g.
        ``{"app_state": {"params": {"min_fee_uusd": "10"}}}``. ``self_bond`` (uopt, default
        ``DEFAULT_SELF_BOND``) declares every genesis validator in ``app_state.staking``:
        operator key ``validator<i>``, the node's consensus key, that much bonded from the
        operator's genesis balance, so the set is stake-backed (slashable, rewarded) from
        block 1; with 0 CometBFT's genesis validators stay fixed, unbacked members. Both are ignored when
        the network already exists: a genesis cannot change under a running chain.
        """
        if self.exists:
            return False
        if self.home.exists() and any(self.home.glob("node*")):
            raise LocalnetError(
                f"{self.home} holds node folders but no {METADATA}: a half-created "
                "localnet; delete the folder and run `optio localnet up` again"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [cometbft_binary(), "testnet", "--v", str(self.validators), "--o", str(self.home),
             "--starting-ip-address", "127.0.0.1", "--populate-persistent-peers=false"],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise LocalnetError(f"cometbft testnet failed:\n{result.stderr or result.stdout}")
        nodes = self.nodes
        ids = [node_id(n.home / "config" / "node_key.json") for n in nodes]
        for node in nodes:
            peers = peers_string(
                [(ids[o.index], o.ports.p2p) for o in nodes if o.index != node.index]
            )
            rewrite_cometbft_config(
                node.home / "config" / "config.toml", node.name, node.ports, peers,
                self.log_level,
            )
            (node.home / "config" / "app.toml").write_text(
                app_toml(node.ports.abci, log_level=self.log_level,
                         oracle=localnet_oracle(node.index))
            )
        self._write_genesis(genesis_overrides, self_bond)
        self._write_metadata()
        return True

    def _write_metadata(self) -> None:
        (self.home / METADATA).write_text(json.dumps(
            {"validators": self.validators, "base_port": self.base_port,
             "chain_id": self.chain_id, "full_nodes": self.full_nodes}, indent=2) + "\n")

    def _write_genesis(self, overrides: dict[str, Any] | None = None,
                       self_bond: int = DEFAULT_SELF_BOND) -> None:
        """Fund demo + operator keys and write the same complete genesis to every node."""
        from genesis.builder import complete_genesis, write_genesis
        from genesis.presets import localnet_app_genesis, localnet_params
        from genesis.schema import AppGenesis
        from genesis.validators import with_genesis_validators
        from state.errors import GenesisError

        names = [*DEMO_KEYS, *(f"validator{n.index}" for n in self.nodes)]
        addresses = [
            (self.keyring.show(n) if self.keyring.has(n) else self.keyring.add(n)).address
            for n in names
        ]
        base = json.loads((self.nodes[0].home / "config" / "genesis.json").read_text())
        # Every validator of a localnet shares this machine's cores: scale the VDF to that.
        params = localnet_params(self.validators, os.cpu_count() or 1)
        app_genesis = localnet_app_genesis(addresses, params=params)
        if self_bond:
            operators = [
                (self.keyring.show(f"validator{node.index}").address,
                 base64.b64decode(self.validator_key(node)["pub_key"]["value"]))
                for node in self.nodes
            ]
            try:
                app_genesis = with_genesis_validators(
                    app_genesis, operators, self_bond=self_bond,
                    monikers=[node.name for node in self.nodes])
            except GenesisError as exc:
                raise LocalnetError(f"cannot bond the genesis validators: {exc}") from None
        genesis = complete_genesis(base, app_genesis, chain_id=self.chain_id,
                                   vote_extensions_enable_height=1)
        if overrides:
            genesis = merge_json(genesis, overrides)
        try:
            # Every node would refuse a bad app_state in InitChain: refuse it here, once.
            AppGenesis.from_json(genesis["app_state"])
        except GenesisError as exc:
            raise LocalnetError(f"the localnet genesis is invalid: {exc}") from None
        for node in self.nodes:
            write_genesis(str(node.home / "config" / "genesis.json"), genesis)

    def add_node(self, start: bool = True, timeout: float = 180.0,
                 app_settings: dict[str, str | int | bool] | None = None) -> Node:
        """Add a full node (not a validator) that syncs the chain from the others.

        It gets its own CometBFT home with a fresh consensus key
        (``config/priv_validator_key.json``) and its own app process, plus an unfunded
        operator key ``validator<i>`` in the test keyring: fund it, then run
        ``optio tx staking create-validator`` with the node's consensus key to make it a
        validator. With ``start`` it waits until the node has caught up with node0.
        ``app_settings`` override keys of its ``config/app.toml``.
        """
        if not self.exists:
            raise LocalnetError(f"no localnet in {self.home}: run `optio localnet up` first")
        index = self.validators + self.full_nodes
        node = Node(index, self.home / f"node{index}", NodePorts.for_node(self.base_port, index))
        if node.home.exists():
            shutil.rmtree(node.home)
        result = subprocess.run(
            [cometbft_binary(), "init", "--home", str(node.home)],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise LocalnetError(f"cometbft init failed:\n{result.stderr or result.stdout}")
        shutil.copyfile(self.nodes[0].home / "config" / "genesis.json",
                        node.home / "config" / "genesis.json")
        peers = peers_string([
            (node_id(other.home / "config" / "node_key.json"), other.ports.p2p)
            for other in self.nodes
        ])
        rewrite_cometbft_config(node.home / "config" / "config.toml", node.name, node.ports,
                                peers, self.log_level)
        (node.home / "config" / "app.toml").write_text(app_toml(
            node.ports.abci, log_level=self.log_level, overrides=app_settings,
            oracle=localnet_oracle(index)))
        if not self.keyring.has(f"validator{index}"):
            self.keyring.add(f"validator{index}")
        # Recorded before starting, so `down` stops it even if the start fails.
        self.full_nodes += 1
        self._write_metadata()
        if start:
            self.start_node(index, timeout=timeout)
            self.wait_for_sync(node, timeout)
        return node

    def wait_for_sync(self, node: Node, timeout: float = 180.0) -> None:
        """Wait until ``node`` has left block sync and reached node0's height of now."""
        target = self.rpc(0).status().latest_height
        self.wait_for_height(target, timeout, nodes=[node])
        deadline = time.monotonic() + timeout
        while self.rpc(node, timeout=2.0).status().catching_up:
            if time.monotonic() >= deadline:
                raise LocalnetError(self._failure(node, f"it still catches up after {timeout:g}s"))
            time.sleep(0.2)

    def validator_key(self, node: Node | str | int) -> dict[str, Any]:
        """The node's consensus key as CometBFT keeps it (``priv_validator_key.json``):
        ``address`` (hex), ``pub_key``/``priv_key`` (``{"type", "value": base64}``)."""
        target = node if isinstance(node, Node) else self.node(node)
        path = target.home / "config" / "priv_validator_key.json"
        key: dict[str, Any] = json.loads(path.read_text())
        return key

    # --- processes ------------------------------------------------------------

    def _command(self, node: Node, process: Process) -> list[str]:
        if process == "app":
            return [self.python, "-m", "chain.cli", "node", "start", "--home", str(node.home)]
        return [cometbft_binary(), "start", "--home", str(node.home)]

    def process_status(self, node: Node, process: Process) -> ProcessStatus:
        path = node.pid_file(process)
        if not path.exists():
            return ProcessStatus(None, False)
        try:
            pid = int(path.read_text().strip())
        except ValueError:
            return ProcessStatus(None, False)
        return ProcessStatus(pid, _pid_alive(pid, str(node.home)))

    def _spawn(self, node: Node, process: Process) -> None:
        port = node.ports.abci if process == "app" else node.ports.rpc
        if _port_in_use(port):
            raise LocalnetError(
                f"{node.name}: port {port} for its {process} is taken by another program "
                "(another localnet?); choose another --base-port"
            )
        log = node.log_file(process).open("ab")
        try:
            child = subprocess.Popen(
                self._command(node, process), cwd=node.home, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            log.close()
        node.pid_file(process).write_text(f"{child.pid}\n")

    def _wait_for_abci(self, node: Node, timeout: float) -> None:
        """CometBFT retries a missing app only every few seconds: start it once the app listens."""
        deadline = time.monotonic() + timeout
        while not _port_in_use(node.ports.abci):
            if not self.process_status(node, "app").alive:
                raise LocalnetError(self._failure(node, "the app process exited"))
            if time.monotonic() >= deadline:
                raise LocalnetError(self._failure(
                    node, f"the app did not listen on port {node.ports.abci} in {timeout:g}s"))
            time.sleep(0.1)

    def start_node(self, name: str | int, only: Process | None = None,
                   timeout: float = 60.0) -> None:
        """Start the node's stopped processes (app before CometBFT)."""
        node = self.node(name)
        wanted = PROCESSES if only is None else (only,)
        if "app" in wanted and not self.process_status(node, "app").alive:
            self._spawn(node, "app")
        if "cometbft" in wanted and not self.process_status(node, "cometbft").alive:
            # CometBFT without its app would only log connection errors: require the app.
            self._wait_for_abci(node, timeout)
            self._spawn(node, "cometbft")

    def stop_node(self, name: str | int, only: Process | None = None, kill: bool = False,
                  grace: float = 10.0) -> None:
        """Stop the node's processes: SIGTERM then SIGKILL after ``grace`` (or SIGKILL now)."""
        node = self.node(name)
        # CometBFT first, so it does not log a storm of errors about the lost app.
        wanted: list[Process] = [p for p in ("cometbft", "app") if only is None or p == only]
        for process in wanted:
            self._signal(node, process, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in wanted:
            killed = kill
            while self.process_status(node, process).alive:
                if time.monotonic() >= deadline:
                    if killed:
                        raise LocalnetError(
                            f"{node.name}: its {process} (pid "
                            f"{self.process_status(node, process).pid}) survives SIGKILL")
                    self._signal(node, process, signal.SIGKILL)
                    killed = True
                    deadline = time.monotonic() + grace
                time.sleep(0.05)
            node.pid_file(process).unlink(missing_ok=True)

    def _signal(self, node: Node, process: Process, sig: signal.Signals) -> None:
        status = self.process_status(node, process)
        if status.pid is None or not status.alive:
            return
        try:
            # Its own session: the group holds exactly this process and its children.
            os.killpg(status.pid, sig)
        except ProcessLookupError:
            pass

    def up(self, timeout: float = 120.0, min_height: int = 2,
           genesis_overrides: dict[str, Any] | None = None,
           self_bond: int = DEFAULT_SELF_BOND) -> bool:
        """Create if needed, start every stopped process, wait for ``min_height``.

        Returns True if the network was created by this call (``genesis_overrides`` and
        ``self_bond``: see ``init``).
        """
        created = self.init(genesis_overrides, self_bond)
        for node in self.nodes:
            self.start_node(node.index, timeout=timeout)
        self.wait_for_height(min_height, timeout)
        return created

    def down(self, kill: bool = False) -> None:
        for node in self.nodes:
            self.stop_node(node.index, kill=kill)

    def reset(self) -> None:
        """Stop everything and wipe chain and app data back to height 0 (keys/config kept)."""
        self.down()
        for node in self.nodes:
            app_db = node.home / self._app_db_path(node)
            if app_db.exists():
                shutil.rmtree(app_db)
            data = node.home / "data"
            for entry in data.iterdir() if data.exists() else ():
                if entry.name == "priv_validator_state.json":
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            data.mkdir(exist_ok=True)
            (data / "priv_validator_state.json").write_text(
                json.dumps({"height": "0", "round": 0, "step": 0}, indent=2) + "\n"
            )
            (node.home / "config" / "addrbook.json").unlink(missing_ok=True)

    @staticmethod
    def _app_db_path(node: Node) -> str:
        """The app's LevelDB folder as ``config/app.toml`` sets it (relative to the home)."""
        path = node.home / "config" / "app.toml"
        settings = tomllib.loads(path.read_text()) if path.exists() else {}
        return str(settings.get("db_path", "data/optio.db"))

    # --- observation ----------------------------------------------------------

    def wait_for_height(self, height: int, timeout: float = 120.0,
                        nodes: list[Node] | None = None) -> None:
        """Poll every (given) node until it reports ``height``; fail with its log tail."""
        deadline = time.monotonic() + timeout
        for node in nodes or self.nodes:
            while True:
                for process in PROCESSES:
                    if not self.process_status(node, process).alive:
                        raise LocalnetError(self._failure(node, f"its {process} process is not running"))
                try:
                    if self.rpc(node, timeout=2.0).status().latest_height >= height:
                        break
                except RPCError:
                    pass
                if time.monotonic() >= deadline:
                    raise LocalnetError(self._failure(
                        node, f"it did not reach height {height} within {timeout:g}s"))
                time.sleep(0.2)

    def _failure(self, node: Node, reason: str) -> str:
        parts = [f"{node.name}: {reason}."]
        for process in PROCESSES:
            text = tail(node.log_file(process), 15)
            parts.append(f"--- last lines of {node.log_file(process)} ---\n{text or '(empty)'}")
        return "\n".join(parts)

    def status(self) -> list[NodeStatus]:
        result = []
        for node in self.nodes:
            height: int | None = None
            app_hash: str | None = None
            error: str | None = None
            try:
                status = self.rpc(node, timeout=2.0).status()
                height, app_hash = status.latest_height, status.latest_app_hash
            except RPCError as exc:
                error = str(exc)
            result.append(NodeStatus(
                name=node.name, rpc=node.rpc_url, height=height, app_hash=app_hash,
                app=self.process_status(node, "app"),
                cometbft=self.process_status(node, "cometbft"), error=error,
            ))
        return result

    def follow(self, name: str | int, process: Process, interval: float = 0.2) -> Iterator[str]:
        """Yield lines appended to a node's log from now on (``logs -f``)."""
        path = self.node(name).log_file(process)
        path.touch()
        with path.open("r", errors="replace") as handle:
            handle.seek(0, os.SEEK_END)
            while True:
                line = handle.readline()
                if line:
                    yield line.rstrip("\n")
                else:
                    time.sleep(interval)


def merge_json(base: Any, overrides: Any) -> Any:
    """``base`` with ``overrides`` applied: objects merged key by key, other values replaced."""
    if not isinstance(base, dict) or not isinstance(overrides, dict):
        return overrides
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = merge_json(base[key], value) if key in base else value
    return merged
